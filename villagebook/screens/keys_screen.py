"""The Keys screen: this node's fingerprint to read out on the phone, and every
key it trusts, with its unit, fingerprint and how it came to be trusted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

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
class KeysLoaded(Message):
    """The trust store was read: rows of (key id, unit, fingerprint, how)."""

    own: tuple[str, str]
    rows: list[tuple[str, str, str, str]]


class KeysScreen(ReportsFailedWorkers, Screen[None]):
    """Fingerprints of this node's key and of the keys it trusts."""

    DEFAULT_CSS = """
    KeysScreen #own { height: auto; padding: 1; background: $boost; }
    KeysScreen #keys { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", N_("Back"), id="keys.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home

    def compose(self) -> ComposeResult:
        yield Static(Text(_("Loading…")), id="own")
        table: DataTable[Text] = DataTable(id="keys", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        """Columns, then read the trust store."""
        self.title = _("Keys")
        self.query_one("#keys", DataTable).add_columns(
            _("Key id"), _("Unit"), _("Fingerprint"), _("Trusted how"))
        self.load_keys()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load_keys(self) -> None:
        """Read the keys on a worker thread."""
        from villagebook.store.node import Store
        from villagebook.sync.trust import list_keys

        with Store(self.home) as store:
            names = dict(store.conn.execute("SELECT code, name FROM unit").fetchall())
            keys = list_keys(store)
        rows = []
        for key in keys:
            how = (_("this node") if key.own else _("revoked") if key.revoked else
                   _("handed over by {key}").format(key=key.handover_by) if key.handover_by
                   else _("enrolled by {key}").format(key=key.enrolled_by) if key.enrolled_by
                   else _("trusted here"))
            unit = f"{names.get(key.unit, '')} {key.unit}".strip()
            rows.append((key.key_id, unit, key.public_key.fingerprint(), how))
        own = keys[0]
        self.post_message(KeysLoaded((own.key_id, own.public_key.fingerprint()), rows))

    def on_keys_loaded(self, message: KeysLoaded) -> None:
        """Show the fingerprint large, and the table."""
        key_id, fingerprint = message.own
        self.query_one("#own", Static).update(Text(
            _("This node's key {key}; fingerprint to read out: {fingerprint}").format(
                key=key_id, fingerprint=fingerprint)))
        table = self.query_one("#keys", DataTable)
        table.clear()
        for row in message.rows:
            # Unit names come from peers: escapes shown, never sent to the terminal.
            table.add_row(*(Text(safe_text(cell)) for cell in row), key=row[0])
        table.focus()
