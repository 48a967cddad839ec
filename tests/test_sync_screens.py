"""The Sync, Conflicts and Keys screens, driven from the keyboard by Pilot on real
homes with real bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Input, ProgressBar, Static

from tests.conftest import VILLAGE, make_node
from tests.pilot import Harness, settle
from tests.sync_helpers import CASE, full_at_the_manifest, introduce, send, three_nodes
from villagebook.domain.enums import Role
from villagebook.screens.conflicts_screen import ConflictsScreen
from villagebook.screens.keys_screen import KeysScreen
from villagebook.screens.sync_screen import SyncScreen
from villagebook.services import cases
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file

SIZE = (100, 30)


def cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def static_text(screen: Screen[Any], selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_the_sync_screen_exports_to_a_stick_and_imports_a_whole_folder(
        tmp_path: Path) -> None:
    stick = tmp_path / "usb"
    stick.mkdir()
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        village, township = n.village.home, n.township.home
    app = Harness(lambda: SyncScreen(village, stick))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")
        await settle(pilot)
        [bundle] = list(stick.glob("*.vbundle"))
        assert str(bundle) in static_text(app.screen, "#status")
        assert "加密给单位 320117100000 的 1 台设备" in static_text(app.screen, "#status")
    (stick / "broken.vbundle").write_bytes(bundle.read_bytes()[:300])
    app = Harness(lambda: SyncScreen(township))
    async with app.run_test(size=SIZE) as pilot:
        folder = app.screen.query_one("#folder", Input)
        folder.value = str(stick)
        await pilot.press("ctrl+r")
        await settle(pilot)
        rows = cells(app.screen.query_one("#results", DataTable))
        assert len(rows) == 2
        by_file = {row[0]: row for row in rows}
        assert by_file[bundle.name][1:4] == ["白马村", "已合并", "2"]
        assert by_file[bundle.name][7] == "已加密"
        assert by_file["broken.vbundle"][2] == "已拒收"
        assert by_file["broken.vbundle"][6]  # a reason is shown
        progress = app.screen.query_one("#progress", ProgressBar)
        assert progress.progress == progress.total == 2


async def test_the_sync_screen_says_in_chinese_when_the_stick_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stick = tmp_path / "usb"
    stick.mkdir()
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        village = n.village.home
    full_at_the_manifest(monkeypatch)
    app = Harness(lambda: SyncScreen(village, stick))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")
        await settle(pilot)
        status = static_text(app.screen, "#status")
    assert "没有写入任何数据包" in status and str(stick) in status, status
    assert "Errno" not in status
    assert list(stick.iterdir()) == []


async def test_the_keys_screen_shows_every_fingerprint(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        township = n.township.home
    app = Harness(lambda: KeysScreen(township))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = cells(app.screen.query_one("#keys", DataTable))
        assert len(rows) == 3
        assert all(len(row[2].replace(" ", "")) == 16 for row in rows)
        assert rows[0][2] in static_text(app.screen, "#own")


async def test_the_conflicts_screen_shows_both_sides_and_keeps_one(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        # The second laptop and the first trust each other (the first hands the second
        # over to the township with its next bundle); the second trusts the township.
        laptop = make_node(tmp_path / "laptop2", Role.VILLAGE, VILLAGE)
        introduce(n.village, laptop)
        introduce(laptop, n.village)
        introduce(laptop, n.township)
        case_id = cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "a"))
        merge_file(laptop, send(n.township, tmp_path / "b", VILLAGE[0]))
        cases.update_case(n.village, case_id, {"title": "[b]甲[/b]的标题"})
        cases.update_case(laptop, case_id, {"title": "乙的标题"})
        merge_file(n.township, send(n.village, tmp_path / "c"))
        merge_file(laptop, send(n.township, tmp_path / "d", VILLAGE[0]))
        home = laptop.home
        laptop.close()
    app = Harness(lambda: ConflictsScreen(home))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(cells(app.screen.query_one("#conflicts", DataTable))) == 1
        sides = static_text(app.screen, "#left") + static_text(app.screen, "#right")
        assert "[b]甲[/b]的标题" in sides and "乙的标题" in sides
        keep = 1 if "乙的标题" in static_text(app.screen, "#right") else 0
        await pilot.press(str(keep + 1))
        await settle(pilot)
        assert cells(app.screen.query_one("#conflicts", DataTable)) == []
    with Store(home) as store:
        assert cases.get_case(store, case_id)["title"] == "乙的标题"
