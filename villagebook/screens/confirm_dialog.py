"""A yes/no question: `ConfirmDialog(question)` dismisses with True or False."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings


class ConfirmDialog(ModalScreen[bool]):
    """Ask before something that cannot be undone from here (delete, leave unsaved)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", N_("Yes"), id="confirm.yes", tooltip=N_("Yes, go ahead")),
        Binding("n,escape", "answer(False)", N_("No"), id="confirm.no",
                tooltip=N_("No, go back")),
    ]

    def __init__(self, question: str, yes: str | None = None, no: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.question = question
        self.yes_label = yes or _("Yes")
        self.no_label = no or _("No")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question))
            with Horizontal():
                yield Button(Text(self.yes_label), id="yes", variant="error")
                yield Button(Text(self.no_label), id="no", variant="primary")

    def on_mount(self) -> None:
        """The safe answer has the focus."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """A key answers."""
        self.dismiss(answer)
