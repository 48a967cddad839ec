"""Ask for a short text (a follow-up note, a resolution): dismisses with the
text, or None when cancelled. `ctrl+s` confirms (Enter makes a new line)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings


class TextPromptDialog(ModalScreen[str | None]):
    """One text box with a question above it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "confirm", N_("Save"), id="prompt.save", tooltip=N_("Confirm"),
                priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="prompt.cancel",
                tooltip=N_("Close without saving")),
    ]

    def __init__(self, question: str, *, initial: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.question = question
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question))
            yield TextArea(self.initial, id="answer", soft_wrap=True)
            yield Static(Text(_("Ctrl+S to save, Esc to cancel")), classes="hint")
            yield Static("", id="problem", classes="form-problem")

    def on_mount(self) -> None:
        """Type at once."""
        self.query_one("#answer").focus()

    def action_confirm(self) -> None:
        """Confirm a non-empty answer."""
        value = self.query_one("#answer", TextArea).text.strip()
        if not value:
            self.query_one("#problem", Static).update(Text(_("Please write something first")))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        """No answer."""
        self.dismiss(None)
