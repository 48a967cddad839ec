"""What the case form and the problem form share: load on a worker, `ctrl+s`
saves on a worker, inline validation messages, and `escape` asks before an
unsaved change is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from villagebook.domain.fields import Entity
from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.record_form import RecordForm
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text
from villagebook.store.node import Store


@dataclass
class RecordRead(Message):
    """The record to edit was read (None for a new one)."""

    record: dict[str, Any] | None


@dataclass
class RecordSaved(Message):
    """The record was saved under `record_id`."""

    record_id: str


@dataclass
class SaveRefused(Message):
    """Saving was refused: per-field problems and/or one general reason."""

    field_errors: dict[str, str]
    reason: str


class RecordFormScreen(ReportsFailedWorkers, Screen[str | None]):
    """A form for one record; dismisses with the saved id, or None when left."""

    ENTITY: ClassVar[Entity]
    SKIP: ClassVar[tuple[str, ...]] = ("unit_code", "status")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", N_("Save"), id="form.save", priority=True,
                tooltip=N_("Save the record (it is kept even if the laptop loses power)")),
        Binding("escape", "leave", N_("Back"), id="form.back",
                tooltip=N_("Leave the form (asks first if something is unsaved)")),
        Binding("tab", "app.focus_next", N_("Next field"), id="form.next", show=False,
                tooltip=N_("Move to the next field")),
    ]

    def __init__(self, home: Path, record_id: str | None) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.record_id = record_id
        self.loaded = False
        self.saving = False

    # Subclasses: what the form is called, and how a record is read and written.
    def form_title(self) -> str:
        """The title for a new or an existing record."""
        raise NotImplementedError

    def read(self, store: Store, record_id: str) -> dict[str, Any]:
        """One record."""
        raise NotImplementedError

    def create(self, store: Store, values: dict[str, Any]) -> str:
        """A new record; returns its id."""
        raise NotImplementedError

    def update(self, store: Store, record_id: str, values: dict[str, Any]) -> None:
        """Changes to a record."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield Header()
        yield RecordForm(self.ENTITY, self.SKIP, id="form")
        yield Static("", id="form-problem", classes="form-problem")
        yield Static(Text(_("Fields marked * are required · Ctrl+S save · Esc back")),
                     classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        """Title, then the record (or blanks)."""
        self.title = self.form_title()
        if self.record_id is None:
            self._show(None)
        else:
            self.read_record(self.record_id)

    @property
    def dirty(self) -> bool:
        """Whether the form holds changes not yet saved."""
        return self.loaded and self.query_one("#form", RecordForm).dirty

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-read")
    def read_record(self, record_id: str) -> None:
        """Read the record on a worker."""
        with Store(self.home) as store:
            self.post_message(RecordRead(self.read(store, record_id)))

    def on_record_read(self, message: RecordRead) -> None:
        """Fill the form."""
        self._show(message.record)

    def _show(self, record: dict[str, Any] | None) -> None:
        form = self.query_one("#form", RecordForm)
        form.load(record)
        self.loaded = True
        form.query("Input, TextArea, Select, SelectionList, Checkbox").first().focus()

    def action_save(self) -> None:
        """Save on a worker; problems come back next to their fields."""
        if not self.loaded or self.saving:
            return
        form = self.query_one("#form", RecordForm)
        values = form.values() if self.record_id is None else form.changes()
        if self.record_id is not None and not values:
            self.notify(_("Nothing to save: no field was changed"), markup=False, timeout=3)
            return
        self.saving = True
        self.save_record(self.record_id, values)

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-save")
    def save_record(self, record_id: str | None, values: dict[str, Any]) -> None:
        """Write through the services; refusals become messages."""
        from villagebook.domain.validation import ValidationError
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe, describe_field_error
        from villagebook.store.db import HomeBusy

        try:
            with Store(self.home) as store:
                if record_id is None:
                    record_id = self.create(store, values)
                else:
                    self.update(store, record_id, values)
        except ValidationError as error:
            fields = {e.field: describe_field_error(e, self.ENTITY.name) for e in error.errors}
            self.post_message(SaveRefused(fields, _("Please correct the fields marked in red")))
            return
        except (Refused, HomeBusy) as error:  # busy: another VillageBook held the home
            self.post_message(SaveRefused({}, describe(error, self.ENTITY.name)))
            return
        self.post_message(RecordSaved(record_id))

    def on_save_refused(self, message: SaveRefused) -> None:
        """Show what to correct."""
        self.saving = False
        self.query_one("#form", RecordForm).show_errors(message.field_errors)
        self.query_one("#form-problem", Static).update(Text(safe_text(message.reason)))

    def on_record_saved(self, message: RecordSaved) -> None:
        """Saved: say so and go back."""
        self.saving = False
        self.loaded = False
        self.notify(_("Saved"), markup=False, timeout=3)
        self.dismiss(message.record_id)

    def action_leave(self) -> None:
        """Leave; with unsaved changes, ask first."""
        if not self.dirty:
            self.dismiss(None)
            return
        from villagebook.screens.confirm_dialog import ConfirmDialog

        def answered(leave: bool | None) -> None:
            if leave:
                self.loaded = False
                self.dismiss(None)

        self.app.push_screen(ConfirmDialog(_("This form has changes that are not saved. "
                                             "Leave without saving?"),
                                           yes=_("Leave without saving"),
                                           no=_("Keep editing")), answered)
