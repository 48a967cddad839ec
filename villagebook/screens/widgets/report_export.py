"""Writing a report from a screen: the same files as `villagebook report`, in the home.

Reports go to `<home>/reports/<kind>-<date>.xlsx`; the screen is told the path with a
notification. A report that cannot be written fails its worker, and the screen (which
mixes in `ReportsFailedWorkers`) says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.screen import Screen

from villagebook.i18n import _

REPORT_FOLDER = "reports"


def report_path(home: Path, kind: str, stamp: str) -> Path:
    """Where a report of `kind` made on `stamp` (a date, or a period) is written."""
    return home / REPORT_FOLDER / f"{kind}-{stamp}.xlsx"


def write_report_from(screen: Screen[Any], home: Path, kind: str,
                      period: str | None = None) -> None:
    """Write the report on a worker thread and notify the screen's user."""

    def write() -> None:
        from villagebook.services.reports import write_report
        from villagebook.store.node import Store

        with Store(home) as store:
            out = report_path(home, kind, period or store.today().isoformat())
            out.parent.mkdir(parents=True, exist_ok=True)
            rows = write_report(store, kind, out, period)
        screen.app.call_from_thread(
            screen.notify, _("Wrote {count} rows to {path}").format(count=rows, path=out))

    screen.run_worker(write, thread=True, exclusive=False, exit_on_error=False,
                      group="report")
