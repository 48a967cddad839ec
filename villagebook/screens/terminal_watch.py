"""The app ends when its terminal goes away, instead of spinning on a dead input.

A closed terminal (a killed tmux session, an SSH line that dropped, a closed
window) shows up two ways: SIGHUP, and an input that reports hang-up. Textual's
input thread reads an empty input in a loop once the terminal is gone, so the
app would keep a core busy and the database open for as long as nobody killed it.
Both signs end the app here. Windows' console sends neither: nothing to watch.
"""

from __future__ import annotations

import asyncio
import select
import signal
import sys
from typing import Any

from textual.app import App

#: How often the input is asked whether it hung up (a poll of one descriptor).
CHECK_SECONDS = 0.5


def terminal_gone(fd: int) -> bool:
    """Whether the input `fd` reports hang-up or error (never blocks)."""
    if sys.platform == "win32":
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    dead = select.POLLHUP | select.POLLERR | select.POLLNVAL
    return any(mask & dead for _fd, mask in poller.poll(0))


def watch_terminal(app: App[Any]) -> None:
    """From now on, SIGHUP or a hung-up input ends `app` (not in headless tests)."""
    if sys.platform == "win32" or app.is_headless or sys.__stdin__ is None:
        return
    fd = sys.__stdin__.fileno()
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, app.exit)

    def check() -> None:
        if terminal_gone(fd):
            app.exit()

    app.set_interval(CHECK_SECONDS, check)
