"""Snapshots of every screen of the terminal app, at 80×24 and 120×40, in Chinese and
(for the main ones) English, on a demo village made with a fixed seed and a pinned
clock, so every run draws the same picture.

Update after a deliberate change: `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.conftest import VILLAGE
from tests.pilot import settle
from villagebook.domain.enums import Role
from villagebook.services.demo import generate
from villagebook.store.node import NOW_ENV, Store
from villagebook.sync.identity import set_up_node

SMALL = (80, 24)
LARGE = (120, 40)


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(NOW_ENV, "2026-11-01T09:00:00")
    yield


@pytest.fixture
def demo_home(tmp_path: Path) -> Path:
    """A village with 30 demo cases and 40 demo problems (seed 7)."""
    home = tmp_path / "village"
    with Store(home) as store:
        set_up_node(store, Role.VILLAGE, *VILLAGE)
        generate(store, cases=30, problems=40, seed=7)
    return home


def keys(*pressed: str) -> Callable[[Pilot[Any]], Any]:
    """Settle, press `pressed` one by one (settling after each), settle."""
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)
        pilot.app.clear_notifications()
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # a blinking cursor is drawn on or off by chance
        await pilot.pause()
    return run_before


def the_app(home: Path, lang: str) -> Any:
    from villagebook.screens.app import make_app

    return make_app(home, lang)


SCREENS = {
    "dashboard": (),
    "case_list": ("f3",),
    "case_detail": ("f3", "enter"),
    "case_form": ("f3", "e"),
    "problem_list": ("f4",),
    "problem_detail": ("f4", "down", "enter"),
    "problem_form": ("a",),
    "help": ("f3", "f1"),
    "settings": ("f9",),
    "confirm": ("f3", "enter", "x"),
}
CASES = [
    *[(name, "zh", SMALL) for name in SCREENS],
    *[(name, "en", SMALL) for name in ("dashboard", "case_list", "problem_list")],
    *[(name, "zh", LARGE) for name in ("dashboard", "case_list", "problem_detail",
                                       "case_form")],
    *[(name, "en", LARGE) for name in ("dashboard", "problem_list")],
]


@pytest.mark.parametrize(("name", "lang", "size"), CASES,
                         ids=[f"{n}-{lang}-{w}x{h}" for n, lang, (w, h) in CASES])
def test_screen(snap_compare: Any, demo_home: Path, name: str, lang: str,
                size: tuple[int, int]) -> None:
    assert snap_compare(the_app(demo_home, lang), terminal_size=size,
                        run_before=keys(*SCREENS[name]))


def test_setup_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(the_app(tmp_path / "fresh", "zh"), terminal_size=SMALL,
                        run_before=keys())
