"""The Conflicts screen: fields two people changed at once, both values side by
side with who wrote them and when; a number key keeps one of them.

Keeping a value writes one new change that replaces both, and it travels with
the next bundle. Values are user data: shown as `Text`, never markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class ConflictsLoaded(Message):
    """The conflicts were read."""

    conflicts: list[Any]
    names: dict[str, str]


@dataclass
class ConflictResolved(Message):
    """A value was kept (or refused, with the reason in `problem`)."""

    problem: str | None = None


class ConflictsScreen(ReportsFailedWorkers, Screen[None]):
    """Concurrent edits waiting for a person."""

    DEFAULT_CSS = """
    ConflictsScreen #conflicts { height: 40%; min-height: 4; }
    ConflictsScreen #sides { height: 1fr; }
    ConflictsScreen .side { width: 1fr; border: round $accent; padding: 0 1; }
    ConflictsScreen #status { height: 1; background: $boost; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "keep(0)", N_("Keep left"), id="conflicts.keep_first",
                tooltip=N_("Keep the first value")),
        Binding("2", "keep(1)", N_("Keep right"), id="conflicts.keep_second",
                tooltip=N_("Keep the second value")),
        Binding("escape", "app.pop_screen", N_("Back"), id="conflicts.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.conflicts: list[Any] = []
        self.names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="conflicts", cursor_type="row")
        yield table
        with Horizontal(id="sides"):
            yield Static(Text(""), id="left", classes="side")
            yield Static(Text(""), id="right", classes="side")
        yield Static(Text(_("Loading…")), id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Columns, then read the conflicts."""
        self.title = _("Conflicts")
        self.query_one("#conflicts", DataTable).add_columns(
            _("Kind"), _("Record"), _("Field"), _("Values"))
        self.load_conflicts()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load_conflicts(self) -> None:
        """Read the conflicts on a worker thread."""
        from villagebook.store.node import Store
        from villagebook.sync.conflicts import list_conflicts

        with Store(self.home) as store:
            names = dict(store.conn.execute("SELECT code, name FROM unit").fetchall())
            self.post_message(ConflictsLoaded(list_conflicts(store), names))

    def on_conflicts_loaded(self, message: ConflictsLoaded) -> None:
        """Fill the table and show the first conflict."""
        from villagebook.services.messages import field_label

        self.conflicts, self.names = message.conflicts, message.names
        table = self.query_one("#conflicts", DataTable)
        table.clear()
        for item in self.conflicts:
            table.add_row(Text(item.entity), Text(item.record_id[:13]),
                          Text(field_label(item.entity, item.field)),
                          Text(str(len(item.candidates))), key=item.conflict_id)
        self._say(_("{count} conflicts waiting").format(count=len(self.conflicts))
                  if self.conflicts else _("No conflicts"))
        self._show(0)
        table.focus()

    @on(DataTable.RowHighlighted, "#conflicts")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def _current(self) -> Any | None:
        row = self.query_one("#conflicts", DataTable).cursor_row
        return self.conflicts[row] if 0 <= row < len(self.conflicts) else None

    def _show(self, row: int) -> None:
        item = self.conflicts[row] if 0 <= row < len(self.conflicts) else None
        for index, side in enumerate(("#left", "#right")):
            text = Text()
            if item is not None and index < len(item.candidates):
                value = item.candidates[index]
                who = self.names.get(value.writer_unit, value.writer_unit) or value.device_id
                # Unit names and values come from peers: escapes shown, never sent.
                text.append(f"{index + 1}. " + _("written by {who}").format(
                    who=safe_text(who)) + "\n", style="bold")
                text.append(value.written_at + "\n\n", style="italic")
                shown = value.value if isinstance(value.value, str) else json.dumps(
                    value.value, ensure_ascii=False)
                text.append("\n".join(safe_text(part) for part in shown.split("\n")))
            self.query_one(side, Static).update(text)

    def _say(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def action_keep(self, index: int) -> None:
        """Keep the value on that side."""
        item = self._current()
        if item is None or index >= len(item.candidates):
            return
        self.resolve(item.conflict_id, item.candidates[index].change_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="resolve")
    def resolve(self, conflict_id: str, change_id: str) -> None:
        """Record the choice on a worker thread."""
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe
        from villagebook.store.node import Store
        from villagebook.sync.conflicts import resolve

        try:
            with Store(self.home) as store:
                resolve(store, conflict_id, change_id)
            self.post_message(ConflictResolved())
        except Refused as error:
            self.post_message(ConflictResolved(describe(error)))

    def on_conflict_resolved(self, message: ConflictResolved) -> None:
        """Reload, or say why not."""
        if message.problem:
            self._say(message.problem)
        else:
            self.load_conflicts()
