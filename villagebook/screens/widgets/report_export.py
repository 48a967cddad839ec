"""Writing a report from a screen: the same files as `villagebook report`.

Reports go to `services.report_folder.reports_folder(home)` (the user's Documents
folder, under VillageBook, for the laptop's own home) as `<kind>-<date>.xlsx`. The
user is told the path and may open the folder with Ctrl+O. A report that is open in
WPS or Excel (Windows refuses to replace it) gets the question whether to save it
under another name; any other failure fails the worker, and the screen (which mixes
in `ReportsFailedWorkers`) says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.screen import Screen

from villagebook.i18n import _


def report_path(folder: Path, kind: str, stamp: str) -> Path:
    """Where a report of `kind` made on `stamp` (a date, or a period) is written."""
    return folder / f"{kind}-{stamp}.xlsx"


def write_report_from(screen: Screen[Any], home: Path, kind: str,
                      period: str | None = None, out: Path | None = None) -> None:
    """Write the report on a worker thread and tell the screen's user where it went."""

    def write() -> None:
        from villagebook.services.report_folder import reports_folder
        from villagebook.services.reports import FileInUse, write_report
        from villagebook.store.node import Store

        with Store(home) as store:
            target = out or report_path(reports_folder(home), kind,
                                        period or store.today().isoformat())
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                rows = write_report(store, kind, target, period)
            except FileInUse as in_use:
                screen.app.call_from_thread(_offer_other_name, screen, home, kind, period,
                                            target, in_use)
                return
        screen.app.call_from_thread(_written, screen, rows, target)

    screen.run_worker(write, thread=True, exclusive=False, exit_on_error=False,
                      group="report")


def _written(screen: Screen[Any], rows: int, target: Path) -> None:
    screen.app.last_report_folder = target.parent  # type: ignore[attr-defined]  # Ctrl+O
    screen.notify(_("Wrote {count} rows to {path}; Ctrl+O opens the folder").format(
        count=rows, path=target), markup=False)


def _offer_other_name(screen: Screen[Any], home: Path, kind: str, period: str | None,
                      target: Path, in_use: Exception) -> None:
    from villagebook.screens.confirm_dialog import ConfirmDialog
    from villagebook.services.messages import describe
    from villagebook.services.report_folder import free_name

    other = free_name(target)
    question = _("{problem}\n\nSave it as {name} instead?").format(
        problem=describe(in_use), name=other.name)

    def answered(yes: bool | None) -> None:
        if yes:
            write_report_from(screen, home, kind, period, out=other)

    screen.app.push_screen(ConfirmDialog(question), answered)
