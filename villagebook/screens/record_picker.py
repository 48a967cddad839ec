"""Pick a case or a ledger problem by typing part of its title: dismisses with its id,
or None."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class RecordsFound(Message):
    """Records matching the typed text were found."""

    hits: list[Any]


class RecordPickerDialog(ReportsFailedWorkers, ModalScreen[str | None]):
    """Search cases (or problems) by title and choose one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="picker.cancel",
                tooltip=N_("Close without choosing")),
        Binding("down", "focus_hits", N_("Results"), id="picker.results", show=False,
                tooltip=N_("Move to the results")),
    ]

    def __init__(self, home: Path, question: str, kind: str = "case") -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.question = question
        self.kind = kind

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question))
            yield Input(placeholder=_("Part of the title"), id="picker-search")
            yield OptionList(id="picker-hits")
            yield Static(Text(_("Type, then ↓ and Enter to choose · Esc cancels")),
                         classes="hint")

    def on_mount(self) -> None:
        """Type at once."""
        self.query_one("#picker-search", Input).focus()

    @on(Input.Changed, "#picker-search")
    def _typed(self, event: Input.Changed) -> None:
        self.find(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="picker")
    def find(self, text: str) -> None:
        """Search on a worker."""
        from villagebook.services.search import search
        from villagebook.store.node import Store

        with Store(self.home) as store:
            hits = search(store, text, kind=self.kind, limit=20) if text.strip() else []
        self.post_message(RecordsFound(hits))

    def on_records_found(self, message: RecordsFound) -> None:
        """Show the hits."""
        hits = self.query_one("#picker-hits", OptionList)
        hits.clear_options()
        hits.add_options(Option(Text(safe_text(hit.title or "")), id=hit.record_id)
                         for hit in message.hits)

    def action_focus_hits(self) -> None:
        """From the search box down to the results (the first one highlighted)."""
        hits = self.query_one("#picker-hits", OptionList)
        hits.focus()
        if hits.option_count and hits.highlighted is None:
            hits.highlighted = 0

    @on(OptionList.OptionSelected, "#picker-hits")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """No case."""
        self.dismiss(None)
