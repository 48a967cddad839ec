"""The review, scoring, arena and ledger screens, driven from the keyboard by Pilot.

Each screen is pushed by a tiny app on a real home filled with fixed records
(fixed ids, a pinned clock), so the snapshots are the same on every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tests.conftest import make_node
from tests.pilot import Harness, settle
from villagebook.domain.enums import Role
from villagebook.services import cases, evaluation, records
from villagebook.store.node import NOW_ENV, Store

TOWN = ("320117100000", "白马镇", "320117000000")
DISTRICT = ("320117000000", "溧水区", None)
VILLAGES = (("320117100201", "白马村"), ("320117100202", "石头寨村"),
            ("320117100203", "曹家桥村"))
SECTION = ("320117100301", "农业服务中心")
SIZE = (100, 30)


def fixed_id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"screens:{parts}"))


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(NOW_ENV, "2026-06-01T10:00:00+08:00")
    yield


def _units(store: Store, parent: str, with_district: bool = False) -> None:
    items = [(code, name, "village", parent) for code, name in VILLAGES]
    items.append((SECTION[0], SECTION[1], "section", parent))
    if with_district:
        items.append((TOWN[0], TOWN[1], "township", DISTRICT[0]))
    records.bulk_create(store, "unit", [
        (code, code, {"code": code, "name": name, "kind": kind, "parent_code": up})
        for code, name, kind, up in items])


CASE_TEXT = {
    "lead_person": "王强", "direction": "process", "aspects": ["process", "mode"],
    "problem_addressed": "群众办事来回跑", "measures": "一窗受理、帮办代办",
    "results": "办事时间由5天缩短到1天", "public_recognition": "满意率98%",
}


def _cases(store: Store, status: str, count: int) -> list[str]:
    ids = []
    titles = ("一件事一次办", "积分制管理", "共享菜园", "村民议事会")
    for index in range(count):
        code, name = VILLAGES[index % len(VILLAGES)]
        case_id = fixed_id(status, index)
        records.bulk_create(store, "case", [(case_id, code, {
            **CASE_TEXT, "unit_code": code, "title": f"{name}{titles[index % 4]}",
            "status": status})])
        ids.append(case_id)
    return ids


@pytest.fixture
def town_home(tmp_path: Path) -> Path:
    """白马镇 with three submitted cases and a small ledger."""
    home = tmp_path / "town"
    with make_node(home, Role.TOWNSHIP, TOWN) as store:
        _units(store, TOWN[0])
        _cases(store, "submitted", 3)
        records.bulk_create(store, "problem", [
            (fixed_id("problem", i), code, {
                "unit_code": code, "title": title, "category": "urgent", "source": "visit",
                "reported_date": "2026-01-05", "urgency": "high", "deadline": deadline,
                "status": status, "responsible_person": "李明"})
            for i, (code, title, deadline, status) in enumerate((
                (VILLAGES[0][0], "路灯不亮", "2026-12-01", "open"),
                (VILLAGES[1][0], "污水外溢", "2026-02-01", "studying"),
                (VILLAGES[0][0], "停车难", "2026-03-10", "resolving"),
                (VILLAGES[2][0], "垃圾清运不及时", "2026-04-01", "resolved"),
            ))])
    return home


@pytest.fixture
def district_home(tmp_path: Path) -> Path:
    """溧水区 with approved cases, some scored, and a rubric for 2026."""
    home = tmp_path / "district"
    with make_node(home, Role.DISTRICT, DISTRICT) as store:
        _units(store, TOWN[0], with_district=True)
        approved = _cases(store, "approved", 4)
        for case_id, marks in zip(approved, ((92, 80), (75,), (60, 70), ()), strict=True):
            for number, mark in enumerate(marks):
                evaluation.score_case(store, case_id, f"专家{number + 1}", mark)
        evaluation.set_rubric(store, "2026", {"top_n": 1, "bottom_n": 1})
    return home


def _cell_texts(table: DataTable[Any], column: int) -> list[str]:
    return [str(table.get_row_at(row)[column]) for row in range(table.row_count)]


# --- review queue ------------------------------------------------------------------------

async def test_township_approves_and_returns_cases_without_the_mouse(town_home: Path) -> None:
    from villagebook.screens.review_queue import ReviewQueueScreen

    app = Harness(lambda: ReviewQueueScreen(town_home, reviewer="张科长"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#queue", DataTable)
        assert _cell_texts(table, 1) == ["白马村一件事一次办", "石头寨村积分制管理",
                                         "曹家桥村共享菜园"]
        detail = str(app.screen.query_one("#detail", Static).render())
        assert "白马村一件事一次办" in detail and "一窗受理" in detail

        await pilot.press("a")
        await settle(pilot)
        assert table.row_count == 2
        assert "石头寨村积分制管理" in str(app.screen.query_one("#detail", Static).render())

        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")  # an empty comment is not accepted
        await pilot.pause()
        assert "CommentModal" in type(app.screen).__name__
        for key in "buchong":
            await pilot.press(key)
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 1
        await pilot.press("r", "escape")
        await settle(pilot)
        assert table.row_count == 1

    with Store(town_home) as store:
        first, second, third = _ids_in_order(store)
        assert cases.get_case(store, first)["status"] == "approved"
        assert cases.get_case(store, second)["status"] == "returned"
        assert cases.reviews_of(store, second)[0]["comment"] == "buchong"
        assert cases.reviews_of(store, second)[0]["reviewer"] == "张科长"
        assert cases.get_case(store, third)["status"] == "submitted"


def _ids_in_order(store: Store) -> list[str]:
    return [fixed_id("submitted", i) for i in range(3)]


# --- scoring -----------------------------------------------------------------------------

async def test_expert_scores_the_waiting_case_and_sees_the_mean_and_spread(
    district_home: Path,
) -> None:
    from villagebook.screens.scoring_screen import ScoringScreen

    app = Harness(lambda: ScoringScreen(district_home, expert="赵教授"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#cases", DataTable)
        assert table.row_count == 4
        assert _cell_texts(table, 3)[0] == "-", "the unscored case waits at the top"
        await pilot.press("s")
        await pilot.pause()
        for key in ("8", "8", "enter", "h", "a", "o", "enter"):
            await pilot.press(key)
        await settle(pilot)
        scored = table.get_row(fixed_id("approved", 3))
        assert (str(scored[3]), str(scored[4])) == ("88", "1")
        assert table.cursor_row == table.get_row_index(fixed_id("approved", 3))
        assert "赵教授" in str(app.screen.query_one("#case", Static).render())

        await pilot.press("s")
        await pilot.pause()
        for key in ("1", "2", "0", "enter", "enter"):
            await pilot.press(key)
        await settle(pilot)
        assert "0–100" in str(app.screen.query_one("#status", Static).render())

        await pilot.press("m")
        await pilot.pause()
        for key in ("y", "i", "enter"):
            await pilot.press(key)
        await settle(pilot)
        assert "示范案例" in str(app.screen.query_one("#case", Static).render())

    with Store(district_home) as store:
        scores = evaluation.scores_of(store, fixed_id("approved", 3))
        assert [(s["expert"], s["score"], s["comment"]) for s in scores] == [
            ("赵教授", 88, "hao")]
        assert [m["citation"] for m in evaluation.model_cases(store)] == ["yi"]


# --- arena board -------------------------------------------------------------------------

async def test_arena_board_ranks_with_bars_and_explains_the_highlighted_unit(
    district_home: Path,
) -> None:
    from villagebook.screens.arena_board import ArenaBoardScreen, bar

    app = Harness(lambda: ArenaBoardScreen(district_home, period="2026"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#board", DataTable)
        assert _cell_texts(table, 1) == ["白马村", "石头寨村", "曹家桥村"]
        assert _cell_texts(table, 5) == ["猎豹奖", "", "树懒奖"]
        why = str(app.screen.query_one("#why", Static).render())
        assert "白马村" in why and "专家评分" in why
        await pilot.press("down")
        await pilot.pause()
        assert "石头寨村" in str(app.screen.query_one("#why", Static).render())
        await pilot.press("g")
        await pilot.pause()
        assert _cell_texts(table, 1) == ["农业服务中心"]
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("p", "ctrl+a", "ctrl+k", "2", "0", "2", "5", "enter")
        await settle(pilot)
        heading = str(app.screen.query_one("#heading", Static).render())
        assert "考评期 2025（截至 2025-12-31）" in heading
    from openpyxl import load_workbook

    board = load_workbook(district_home / "reports" / "rank-2026.xlsx")
    assert board.sheetnames == ["村（社区）", "科室站所"]
    assert board["村（社区）"].max_row == 4
    assert str(bar(50, 100, width=10)) == "█████"
    assert str(bar(0, 100)) == ""


async def test_a_report_that_cannot_be_written_says_so(district_home: Path) -> None:
    from villagebook.screens.app import make_app

    (district_home / "reports").write_text("a file where the reports folder goes")
    app = make_app(district_home, "zh")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+g")  # the arena board, on a district
        await settle(pilot)
        assert type(app.screen).__name__ == "ArenaBoardScreen"
        await pilot.press("x")
        await settle(pilot)
        errors = [n.message for n in app._notifications if n.severity == "error"]
    assert len(errors) == 1 and "reports" in errors[0], errors


# --- township ledgers --------------------------------------------------------------------

async def test_township_ledgers_show_overdue_first_and_filter_by_unit(town_home: Path) -> None:
    from villagebook.screens.township_ledgers import TownshipLedgersScreen

    app = Harness(lambda: TownshipLedgersScreen(town_home))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        problems = app.screen.query_one("#problems", DataTable)
        assert _cell_texts(problems, 2) == ["污水外溢", "停车难", "垃圾清运不及时", "路灯不亮"]
        assert _cell_texts(problems, 0)[:2] == ["超期", "超期"]
        units = app.screen.query_one("#units", DataTable)
        units.focus()
        await pilot.pause()
        await pilot.press("enter")  # the most overdue unit is at the top
        await settle(pilot)
        assert set(_cell_texts(problems, 3)) == {"白马村"}
        await pilot.press("a")
        await settle(pilot)
        assert problems.row_count == 4


# --- snapshots ---------------------------------------------------------------------------

def _snapshot(make_screen: Callable[[], Screen[Any]], snap_compare: Any,
              press: tuple[str, ...] = ()) -> bool:
    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in press:
            await pilot.press(key)
            await settle(pilot)

    return bool(snap_compare(Harness(make_screen), terminal_size=(80, 24), run_before=ready))


def test_snapshot_review_queue(town_home: Path, snap_compare: Any) -> None:
    from villagebook.screens.review_queue import ReviewQueueScreen

    assert _snapshot(lambda: ReviewQueueScreen(town_home), snap_compare)


def test_snapshot_return_comment(town_home: Path, snap_compare: Any) -> None:
    from villagebook.screens.review_queue import ReviewQueueScreen

    assert _snapshot(lambda: ReviewQueueScreen(town_home), snap_compare, press=("r",))


def test_snapshot_scoring(district_home: Path, snap_compare: Any) -> None:
    from villagebook.screens.scoring_screen import ScoringScreen

    assert _snapshot(lambda: ScoringScreen(district_home), snap_compare, press=("down",))


def test_snapshot_arena_board(district_home: Path, snap_compare: Any) -> None:
    from villagebook.screens.arena_board import ArenaBoardScreen

    assert _snapshot(lambda: ArenaBoardScreen(district_home, "2026"), snap_compare)


def test_snapshot_township_ledgers(town_home: Path, snap_compare: Any) -> None:
    from villagebook.screens.township_ledgers import TownshipLedgersScreen

    assert _snapshot(lambda: TownshipLedgersScreen(town_home), snap_compare)


# --- inbox -------------------------------------------------------------------------------

def _township_with_bundles(root: Path) -> Path:
    """白马镇 holding 白马村's second bundle (the first was lost) and nothing from 石头寨村."""
    from tests.conftest import run_cli

    env = {NOW_ENV: "2026-05-10T10:00:00+08:00"}
    town, village = root / "town", root / "village"

    def cli(home: Path, *args: str) -> str:
        result = run_cli(home, *args, env=env)
        if result.code != 0 and "No such command" in result.err:
            pytest.skip(f"the sync command line is not there yet: {args[0]}")
        assert result.code == 0, result
        return result.out.strip()

    cli(town, "init", "--role", "township", "--unit", TOWN[0], "--name", TOWN[1],
        "--parent", TOWN[2])
    cli(village, "init", "--role", "village", "--unit", VILLAGES[0][0], "--name",
        VILLAGES[0][1], "--parent", TOWN[0])
    cli(town, "keys", "trust", str(village / "keys" / "node.pub"), "--unit", VILLAGES[0][0])
    cli(village, "keys", "trust", str(town / "keys" / "node.pub"), "--unit", TOWN[0])
    cli(village, "export")
    second = cli(village, "export").splitlines()[-1]
    cli(town, "merge", second)
    return town


async def test_inbox_shows_last_heard_gaps_and_silence(tmp_path: Path) -> None:
    from villagebook.screens.inbox import InboxScreen

    town = _township_with_bundles(tmp_path)
    app = Harness(lambda: InboxScreen(town, silent_days=14))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#streams", DataTable)
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[0] == "白马村" and row[3] == "2" and row[4] == "1"
        assert row[5] == "2026-05-10" and row[6] == "22"
        assert "1" in str(app.screen.query_one("#status", Static).render())
        bundles = app.screen.query_one("#bundles", DataTable)
        assert bundles.row_count == 1, "only the second bundle reached the township"
        merged = [str(cell) for cell in bundles.get_row_at(0)]
        assert merged[0] == "白马村" and merged[1] == "2" and int(merged[4]) > 0
        assert merged[6].endswith(".vbundle")
