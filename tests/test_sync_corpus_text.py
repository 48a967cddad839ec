"""The hostile corpus, part two: a peer's text that a terminal would act on (OSC 52
clipboard escapes, `\x1b[2J`, Rich `[link=file:///etc/passwd]` markup) in titles,
unit names, captions, conflicting values and bundle file names, shown literally by
every text output of the CLI and by the township's and district's screens; and a
100 KB title, refused. docs/SYNC.md's "Hostile corpus" lists every kind."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from tests.conftest import VILLAGE, Result, run_cli
from tests.pilot import Harness, settle
from tests.sync_helpers import CASE, Nodes, change_line, forge, send, three_nodes
from tests.test_sync_corpus import HLC, NOW, TEN_YEARS, case_line, rejected
from villagebook.domain.enums import ReviewDecision
from villagebook.screens.conflicts_screen import ConflictsScreen
from villagebook.screens.keys_screen import KeysScreen
from villagebook.screens.sync_screen import SyncScreen
from villagebook.services import cases
from villagebook.services.records import write_changes
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with three_nodes(tmp_path) as found:
        yield found


# --- hostile text shown by every output ------------------------------------------

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # "copy this to the clipboard"
LINK = "[link=file:///etc/passwd]点我[/link]"
TITLE = f"{OSC52}剪贴板\x1b[2J{LINK}"
UNIT_NAME = "\x1b]52;c;aGk=\x07[link=file:///etc/passwd]村"  # 38 characters: within 40
PROBLEM_ID = "0199aaaa-0000-7000-8000-0000000000f1"
ATTACHMENT_ID = "0bcf9752-61f5-55cd-9d0d-579508816399"
#: The attachment's file, carried in the hostile bundle and listed in its manifest.
EVIDENCE = b"\xff\xd8\xff\xe0 not much of a photo"
EVIDENCE_SHA = hashlib.sha256(EVIDENCE).hexdigest()
_LISTED = [{"sha256": EVIDENCE_SHA, "size": len(EVIDENCE)}]
BAD_NAME = "\x1b]52;c;aGk=\x07\x1b[2J[red]x[blink].vbundle"  # no "/" in a file name
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Shown:
    """A township that merged a village's hostile text, and the bundles for more."""

    township: Path
    village: Path
    district: Path
    case_id: str
    future: Path
    renamed: Path


def _hostile_lines(village: Store, case_id: str) -> bytes:
    """A problem with the hostile title and a concurrent second title (a conflict),
    and an attachment whose name and caption carry escapes and markup."""
    device, unit = village.node.device_id, VILLAGE[0]
    problem = {"unit_code": unit, "title": TITLE, "category": "other", "source": "visit",
               "urgency": "low", "reported_date": "2026-05-01"}
    attachment = {"unit_code": unit, "record_kind": "case", "record_id": case_id,
                  "caption": TITLE, "kind": "photo", "name": f"../../.bashrc{OSC52}{LINK}",
                  "size": len(EVIDENCE), "sha256": EVIDENCE_SHA, "attached_by": LINK,
                  "attached_at": "2026-11-01T10:00:00+00:00"}
    return b"".join((
        change_line(entity="problem", record=PROBLEM_ID, hlc=HLC, device=device, unit=unit,
                    fields=problem),
        change_line(entity="problem", record=PROBLEM_ID, hlc=HLC + 7, device=device, unit=unit,
                    fields={"title": f"另一个{LINK}"}),
        change_line(entity="attachment", record=ATTACHMENT_ID, hlc=HLC + 9, device=device,
                    unit=unit, fields=attachment)))


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shown]:
    root = tmp_path_factory.mktemp("shown")
    with three_nodes(root) as n:
        case_id = cases.create_case(n.village, {**CASE, "title": TITLE, "lead_person": LINK,
                                                "results": TITLE * 76})  # near the 5000 cap
        write_changes(n.village, "unit", VILLAGE[0], VILLAGE[0], {"name": UNIT_NAME})
        cases.submit_case(n.village, case_id)
        judged = cases.create_case(n.village, {**CASE, "title": f"已批准{TITLE}"})
        cases.submit_case(n.village, judged)
        assert merge_file(n.township, send(n.village, root / "up")).status == "merged"
        assert cases.get_case(n.township, case_id)["results"] == TITLE * 76
        cases.review_case(n.township, judged, ReviewDecision.APPROVE, TITLE, LINK)
        hostile = forge(n.village, root / "h.vbundle", _hostile_lines(n.village, case_id),
                        seq=2, overrides={"files": _LISTED, "carries": _LISTED},
                        extra={f"files/{EVIDENCE_SHA}": EVIDENCE})
        assert merge_file(n.township, hostile).status == "merged"
        future = json.loads(case_line(n.village, record="0199aaaa-0000-7000-8000-0000000000f2"))
        future["hlc"] = int((NOW + dt.timedelta(days=TEN_YEARS)).timestamp() * 1000) << 16
        ahead = forge(n.village, root / "ahead.vbundle", change_line(**future), seq=3)
        renamed = root / BAD_NAME
        send(n.village, root / "plain").rename(renamed)
        assert merge_file(n.district, send(n.township, root / "relay")).status == "merged"
        yield Shown(n.township.home, n.village.home, n.district.home, case_id, ahead, renamed)


def harmless(result: Result, *literal: str) -> None:
    """Exit 0, nothing on stdout or stderr a terminal would act on, and each
    `literal` shown as it was written (markup uninterpreted)."""
    assert "Traceback" not in result.err
    text = result.out + result.err
    assert not UNSAFE.search(text), repr(text[:400])
    for piece in literal:
        assert piece in text, (piece, text[:400])


@pytest.mark.parametrize("command", [
    ("search", "剪贴板"), ("dump",), ("conflicts",), ("queue",), ("ledgers",),
    ("attachments", "case", "{case}"), ("keys", "list"), ("status",), ("clock",),
    ("verify", "{future}"),
], ids=lambda command: command[0])
def test_hostile_text_is_shown_literally_by_every_text_output(shown: Shown,
                                                              command: tuple[str, ...]) -> None:
    args = [part.format(case=shown.case_id, future=shown.future) for part in command]
    result = run_cli(shown.township, *args)
    assert result.code == 0, result
    literal = {"search": [LINK], "dump": [LINK, "\\x1b]52;c;"], "conflicts": [LINK],
               "queue": [LINK], "ledgers": [LINK], "attachments": [LINK, "../../.bashrc"],
               "status": ["[link=file:///etc/passwd]村", "\\x1b]52;c;aGk="]}
    harmless(result, *literal.get(command[0], []))


def test_hostile_text_in_merge_messages_is_shown_literally(shown: Shown, tmp_path: Path) -> None:
    home = tmp_path / "township"
    shutil.copytree(shown.township, home)
    # The held-aside notice names the village by its (hostile) name.
    harmless(run_cli(home, "merge", str(shown.future)), "[link=file:///etc/passwd]村")
    # A bundle whose file name holds escapes and markup, merged and then refused.
    harmless(run_cli(home, "merge", str(shown.renamed)), "[red]x[blink]")
    broken = shown.renamed.parent / ("broken-" + BAD_NAME)
    broken.write_bytes(shown.renamed.read_bytes()[:200])
    result = run_cli(home, "merge", str(broken))
    assert result.code == 1
    harmless(result, "[red]x[blink]")


def test_a_hundred_kilobyte_title_is_refused_and_its_message_stays_short(
        nodes: Nodes, tmp_path: Path) -> None:
    line = case_line(nodes.village, title="长" * 100_000)
    found = rejected(nodes.township, forge(nodes.village, tmp_path / "big.vbundle", line),
                     "bad_change")
    assert len(found["message"]) < 300, found["message"][:300]


def _cells(table: DataTable[Any]) -> list[Any]:
    return [cell for row in range(table.row_count) for cell in table.get_row_at(row)]


def _literal(content: Any) -> str:
    """A screen's cell or static: Text only (never markup), and nothing in it a
    terminal would act on. Its plain text."""
    assert isinstance(content, Text), content
    assert not UNSAFE.search(content.plain), repr(content.plain[:200])
    assert not any(span.style and "link" in str(span.style) for span in content.spans)
    return content.plain


async def test_hostile_text_from_a_peer_is_shown_literally_by_the_screens(
        shown: Shown, tmp_path: Path) -> None:
    home = tmp_path / "township"
    shutil.copytree(shown.township, home)
    stick = tmp_path / "stick"
    stick.mkdir()
    shutil.copy(shown.future, stick / "ahead.vbundle")
    shutil.copy(shown.renamed, stick / BAD_NAME)
    app = Harness(lambda: SyncScreen(home, stick))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("ctrl+r")
        await settle(pilot)
        table = app.screen.query_one("#results", DataTable)
        plain = [_literal(cell) for cell in _cells(table)]
        assert any("[red]x[blink]" in cell for cell in plain), plain
        assert any("[link=file:///etc/passwd]村" in cell for cell in plain), plain
        notes = _literal(app.screen.query_one("#status", Static).content)
        assert "[link=file:///etc/passwd]村" in notes
    app = Harness(lambda: ConflictsScreen(home))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        sides = [_literal(app.screen.query_one(side, Static).content)
                 for side in ("#left", "#right")]
        assert any(LINK in side for side in sides), sides
        [_literal(cell) for cell in _cells(app.screen.query_one("#conflicts", DataTable))]
    app = Harness(lambda: KeysScreen(home))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        [_literal(cell) for cell in _cells(app.screen.query_one("#keys", DataTable))]


def _everything_shown(screen: Any) -> list[str]:
    """The plain text of every table cell and every static on a screen, each
    checked by `_literal` (Text, no escapes) or, for plain strings, for escapes."""
    shown: list[str] = []
    for table in screen.query(DataTable):
        shown += [_literal(cell) if not isinstance(cell, str) else cell
                  for cell in _cells(table)]
    for static in screen.query(Static):
        content = static.content
        shown.append(_literal(content) if isinstance(content, Text) else str(content))
    assert not any(UNSAFE.search(text) for text in shown), [
        text[:80] for text in shown if UNSAFE.search(text)]
    return shown


@pytest.mark.parametrize("office", ["township", "district"])
async def test_the_app_shows_a_peers_hostile_text_literally(shown: Shown, tmp_path: Path,
                                                           office: str) -> None:
    from villagebook.screens.app import make_app

    home = tmp_path / office
    shutil.copytree(getattr(shown, office), home)
    app: Any = make_app(home, "zh")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        seen = _everything_shown(app.screen)
        for key in ("f3", "f8", "ctrl+g", "ctrl+n", "f6", "f7"):
            await pilot.press(key)
            await settle(pilot)
            seen += _everything_shown(app.screen)
            if type(app.screen).__name__ != "DashboardScreen":
                await pilot.press("escape")
                await settle(pilot)
        assert any("[link=file:///etc/passwd]" in text for text in seen)
        assert "\x1b]52" not in app.export_screenshot()
