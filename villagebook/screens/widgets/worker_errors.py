"""One handler for failed workers, wherever they run.

A worker's state changes are told to the widget or screen that started it
(they do not bubble), so each of our screens and widgets mixes this in and
hands failures to the app, which says what went wrong in one calm sentence.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ReportsFailedWorkers:
    """Mix into a Screen or Widget: its failed workers reach `app.report_failed_worker`."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Hand a failure to the app."""
        if event.state is WorkerState.ERROR:
            report = getattr(self.app, "report_failed_worker", None)  # type: ignore[attr-defined]
            if report is not None:
                report(event.worker)
