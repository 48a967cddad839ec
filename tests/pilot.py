"""Helpers shared by the Pilot tests of every screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen


class Harness(App[None]):
    """The smallest app that shows one screen."""

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


async def settle(pilot: Pilot[Any], rounds: int = 4) -> None:
    """Let workers finish and their messages land (several rounds: loads chain)."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
