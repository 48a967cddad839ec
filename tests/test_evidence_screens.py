"""Evidence in the terminal app: a secretary attaches a photo from a USB stick to a
case, opens it with the system viewer, removes it; a program posing as a photo is
never handed to the viewer. Driven by Pilot on a real home."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.evidence_helpers import phone_photo, program_as_photo
from tests.pilot import settle
from tests.sync_helpers import CASE
from villagebook.services import attachments, cases
from villagebook.store.node import NOW_ENV, Store

SIZE = (100, 32)


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(NOW_ENV, "2026-06-01T10:00:00")
    yield


@pytest.fixture
def viewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the desktop's xdg-open: it writes down what it was asked to open."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "opened.txt"
    script = folder / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{log}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


def _app(home: Path) -> Any:
    from villagebook.screens.app import make_app

    return make_app(home, "en")


async def _open_case(pilot: Pilot[Any], home: Path, case_id: str) -> None:
    from villagebook.screens.case_detail import CaseDetailScreen

    await settle(pilot)
    await pilot.app.push_screen(CaseDetailScreen(home, case_id))
    await settle(pilot)


async def _wait(pilot: Pilot[Any], rounds: int = 6) -> None:
    """Pauses, not `settle`: the folder tree's loader is a worker that never ends."""
    for _ in range(rounds):
        await pilot.pause(0.05)


async def _type(pilot: Pilot[Any], text: str) -> None:
    for char in text:
        await pilot.press(char)


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for xdg-open")
async def test_secretary_attaches_a_photo_from_a_usb_stick_opens_and_removes_it(
        village: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, viewer: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    stick = tmp_path / "media" / "USB"
    stick.mkdir(parents=True)
    phone_photo(stick / "IMG_0001.jpg", size=(1200, 900))
    case_id = cases.create_case(village, CASE)
    async with _app(village.home).run_test(size=SIZE) as pilot:
        await _open_case(pilot, village.home, case_id)
        await pilot.press("a")
        await _wait(pilot)
        assert type(pilot.app.screen).__name__ == "FilePickerScreen"
        folder = pilot.app.screen.query_one("#folder")
        assert folder.value == str(tmp_path / "user")  # it starts in the user's home
        await pilot.press("ctrl+t")
        folder.value = ""
        await _type(pilot, str(stick))  # the folder box: go to the stick
        await pilot.press("enter")
        await _wait(pilot)
        await pilot.press("down", "enter")  # the first file under the folder: marked
        await _wait(pilot)
        pilot.app.screen.query_one("#caption").focus()
        await _type(pilot, "before")
        await pilot.press("ctrl+s")
        await _wait(pilot)
        await settle(pilot)
        [item] = attachments.attachments_of(village, "case", case_id)
        assert (item["caption"], item["name"], item["kind"]) == ("before", "IMG_0001.jpg",
                                                                 "photo")
        table = pilot.app.screen.query_one("#attachments-table")
        assert table.display and table.row_count == 1
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        [opened] = viewer.read_text().splitlines()
        copy = Path(opened)
        assert copy.suffix == ".jpg" and not copy.stat().st_mode & stat.S_IWUSR
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert attachments.attachments_of(village, "case", case_id) == []


async def test_a_program_posing_as_a_photo_is_never_handed_to_the_viewer(
        village: Store, tmp_path: Path, viewer: Path) -> None:
    case_id = cases.create_case(village, CASE)
    attachments.attach(village, "case", case_id, [program_as_photo(tmp_path / "photo.jpg")])
    async with _app(village.home).run_test(size=SIZE) as pilot:
        await _open_case(pilot, village.home, case_id)
        table = pilot.app.screen.query_one("#attachments-table")
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        shown = [n.message for n in pilot.app._notifications]
        assert any("are not opened here" in text for text in shown), shown
    assert not viewer.exists()


async def test_remove_with_nothing_selected_says_where_to_look(village: Store) -> None:
    case_id = cases.create_case(village, CASE)
    async with _app(village.home).run_test(size=SIZE) as pilot:
        await _open_case(pilot, village.home, case_id)
        await pilot.press("r")
        await settle(pilot)
        shown = [n.message for n in pilot.app._notifications]
        assert any("Select an attachment" in text for text in shown), shown


async def test_township_sees_the_evidence_of_the_case_it_reviews(tmp_path: Path) -> None:
    from textual.widgets import Static

    from tests.evidence_helpers import screenshot
    from tests.pilot import Harness
    from tests.sync_helpers import send, three_nodes
    from villagebook.screens.review_queue import ReviewQueueScreen
    from villagebook.sync.merge import merge_file

    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        attachments.attach(n.village, "case", case_id, [screenshot(tmp_path / "s.png")],
                           caption="群众满意度测评表")
        cases.submit_case(n.village, case_id)
        merge_file(n.township, send(n.village, tmp_path / "usb"))
        home = n.township.home
    async with Harness(lambda: ReviewQueueScreen(home, reviewer="张科长")).run_test(
            size=SIZE) as pilot:
        await settle(pilot)
        shown = str(pilot.app.screen.query_one("#detail", Static).render())
        assert "群众满意度测评表" in shown and "附件（1）" in shown
        assert "文件尚未传到本机" not in shown  # the bytes came with the bundle


def _two_colour_photo(path: Path) -> Path:
    """A photo whose upper half is red and lower half blue, as a phone would save it."""
    from PIL import Image

    image = Image.new("RGB", (800, 600), (220, 20, 20))
    image.paste((20, 20, 220), (0, 300, 800, 600))
    image.save(path, quality=95)
    return path


async def test_a_photo_is_drawn_in_the_terminal_and_esc_goes_back(
        village: Store, tmp_path: Path) -> None:
    from textual.widgets import Static

    from villagebook.screens.photo_preview import PhotoPreviewScreen

    case_id = cases.create_case(village, CASE)
    attachments.attach(village, "case", case_id, [_two_colour_photo(tmp_path / "road.jpg")],
                       caption="[bold]路面[/bold]")
    async with _app(village.home).run_test(size=SIZE) as pilot:
        await _open_case(pilot, village.home, case_id)
        pilot.app.screen.query_one("#attachments-table").focus()
        await pilot.press("p")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, PhotoPreviewScreen)
        title = screen.query_one("#preview-title", Static).render()
        assert "[bold]路面[/bold]" in str(title)  # a caption is data, never markup
        picture = screen.query_one("#preview-picture", Static).render()
        rows = picture.plain.splitlines()  # type: ignore[union-attr]
        assert "▀" in rows[0] and 1 < len(rows) <= SIZE[1]
        assert max(map(len, rows)) <= SIZE[0]
        styles = [span.style for span in picture.spans]  # type: ignore[union-attr]
        above = {(s.foreground.r, s.foreground.b) for s in styles}  # type: ignore[union-attr]
        below = {(s.background.r, s.background.b) for s in styles}  # type: ignore[union-attr]
        # Red above, blue below: the photo's own colours, upper and lower half cells.
        assert any(r > 150 for r, _ in above) and any(b > 150 for _, b in below)
        await pilot.press("escape")
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "CaseDetailScreen"


async def test_a_document_is_not_drawn_and_says_how_to_open_it(
        village: Store, tmp_path: Path) -> None:
    from textual.widgets import Static

    case_id = cases.create_case(village, CASE)
    notes = tmp_path / "会议纪要.txt"
    notes.write_text("村民代表会议纪要\n", encoding="utf-8")
    attachments.attach(village, "case", case_id, [notes])
    async with _app(village.home).run_test(size=SIZE) as pilot:
        await _open_case(pilot, village.home, case_id)
        pilot.app.screen.query_one("#attachments-table").focus()
        await pilot.press("p")
        await settle(pilot)
        picture = pilot.app.screen.query_one("#preview-picture", Static).render()
        assert "press Enter to open" in str(picture)
