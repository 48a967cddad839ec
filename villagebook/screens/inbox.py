"""The township's inbox: who has sent bundles, when it was last heard from, what is missing.

One row per origin and receiver stream (a village's bundles to this township,
or relayed ones): bundles held, the highest number seen, the numbers missing in
between (a lost stick), and how long the unit has been silent. Units silent for
more than `silent_days` stand out, as do gaps. Below, every merged bundle: which
unit, its number, when it was made and merged, how many changes it carried, the
key whose signature was verified, and the file it came in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class InboxLoaded(Message):
    """The streams of bundles held here were read."""

    rows: list[dict[str, Any]]
    today: dt.date
    bundles: list[dict[str, Any]]


def _gaps(missing: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in missing)


class InboxScreen(ReportsFailedWorkers, Screen[None]):
    """Bundles received, per unit: last heard from, gaps, silence."""

    DEFAULT_CSS = """
    InboxScreen #status { height: 1; background: $boost; padding: 0 1; }
    InboxScreen #streams { height: 1fr; }
    InboxScreen #bundles { height: 1fr; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", N_("Back"), id="inbox.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, silent_days: int = 14) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.silent_days = silent_days

    def compose(self) -> ComposeResult:
        yield Static(Text(_("Loading…")), id="status")
        table: DataTable[Text] = DataTable(id="streams", cursor_type="row", zebra_stripes=True)
        yield table
        bundles: DataTable[Text] = DataTable(id="bundles", cursor_type="row",
                                             zebra_stripes=True)
        yield bundles
        yield Footer()

    def on_mount(self) -> None:
        """Set the columns up and read the streams."""
        self.title = _("Inbox")
        table = self.query_one("#streams", DataTable)
        for label, width in ((_("Unit"), 12), (_("To"), 10), (_("Bundles"), 8),
                             (_("Latest number"), 8), (_("Missing numbers"), 10),
                             (_("Last heard"), 10), (_("Days silent"), 10)):
            table.add_column(label, width=width)
        bundles = self.query_one("#bundles", DataTable)
        for label, width in ((_("Unit"), 12), (_("Number"), 6), (_("Made"), 10),
                             (_("Merged"), 10), (_("Changes"), 7), (_("Signed by key"), 16),
                             (_("Arrived in"), 30)):
            bundles.add_column(label, width=width)
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        """Read every stream of bundles held here."""
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store
        from villagebook.sync.status import merged_bundles, streams

        with Store(self.home) as store:
            bundles = [{
                "origin_name": unit_name(store, b.origin) or b.origin, "seq": b.seq,
                "created": b.created_at[:10], "received": b.received_at[:10],
                "changes": b.changes, "key_id": b.key_id, "file": b.bundle_file,
            } for b in merged_bundles(store)]
            rows = [{
                "origin": s.origin, "origin_name": unit_name(store, s.origin) or s.origin,
                "receiver": unit_name(store, s.receiver) or s.receiver, "held": s.held,
                "highest": s.highest, "missing": _gaps(s.missing),
                "last_heard": s.last_heard[:10],
            } for s in streams(store)]
            self.post_message(InboxLoaded(rows, store.today(), bundles))

    def on_inbox_loaded(self, message: InboxLoaded) -> None:
        """Fill the table, longest silence first; gaps and silence in red."""
        def silence(row: dict[str, Any]) -> int:
            try:
                heard = dt.date.fromisoformat(row["last_heard"])
            except ValueError:
                return 0
            return max((message.today - heard).days, 0)

        rows = sorted(message.rows, key=lambda r: (-silence(r), r["origin"], r["receiver"]))
        table = self.query_one("#streams", DataTable)
        table.clear()
        quiet = 0
        for row in rows:
            days = silence(row)
            silent = days > self.silent_days
            quiet += silent
            table.add_row(
                Text(safe_text(row["origin_name"]), style="bold red" if silent else ""),
                Text(row["receiver"]), Text(str(row["held"]), justify="right"),
                Text(str(row["highest"]), justify="right"),
                Text(row["missing"], style="bold red"), Text(row["last_heard"]),
                Text(str(days), justify="right", style="bold red" if silent else ""),
                key=f"{row['origin']}>{row['receiver']}")
        self._fill_bundles(message.bundles)
        self.query_one("#status", Static).update(Text(
            _("{count} senders; {quiet} silent for more than {days} days").format(
                count=len({r["origin"] for r in rows}), quiet=quiet, days=self.silent_days)))

    def _fill_bundles(self, bundles: list[dict[str, Any]]) -> None:
        table = self.query_one("#bundles", DataTable)
        table.clear()
        for index, row in enumerate(bundles):
            table.add_row(
                Text(safe_text(row["origin_name"])), Text(str(row["seq"]), justify="right"),
                Text(row["created"]), Text(row["received"]),
                Text(str(row["changes"]), justify="right"), Text(row["key_id"]),
                Text(safe_text(row["file"])), key=str(index))
