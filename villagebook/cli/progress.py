"""A progress line on stderr for long commands: count, rate and time left.

Drawn only when stderr is a terminal and `--quiet` was not given, so scripts,
pipes and log files never see it; it disappears when the work is done, leaving
the command's one-line summary. Drawn by rich (Textual's own dependency).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from villagebook.i18n import _
from villagebook.services.progress import SILENT, Progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class _Line:
    """A `Progress` drawn as one rich progress line, with its rate in items a second."""

    def __init__(self, bar: RichProgress, task: TaskID) -> None:
        self.bar = bar
        self.task = task
        self.rate = _("{rate:.0f}/s")

    def start(self, total: int) -> None:
        self.bar.update(self.task, total=total)

    def advance(self, count: int = 1) -> None:
        self.bar.advance(self.task, count)
        speed = self.bar.tasks[0].speed
        if speed:
            self.bar.update(self.task, rate=self.rate.format(rate=speed))


def wanted(quiet: bool) -> bool:
    """Whether to draw: stderr is a terminal and the user did not ask for quiet."""
    try:
        return not quiet and sys.stderr is not None and sys.stderr.isatty()
    except (ValueError, OSError):
        return False


@contextmanager
def progress_line(label: str, quiet: bool, total: int | None = None) -> Iterator[Progress]:
    """A `Progress` for the work inside the block, drawn on stderr if `wanted`."""
    if not wanted(quiet):
        yield SILENT
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichBar

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with RichBar(*columns, console=Console(stderr=True), transient=True) as bar:
        yield _Line(bar, bar.add_task(label, total=total, rate=""))
