"""A one-line comment asked for before a decision (return a case with a comment)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings


class CommentModal(ModalScreen[str | None]):
    """Ask for a comment; dismisses with the text, or None when cancelled.

    With `required`, an empty comment is not accepted (a returned case must say
    what to revise).
    """

    DEFAULT_CSS = """
    CommentModal { align: center middle; }
    CommentModal > Vertical {
        width: 70; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    CommentModal #hint { color: $text-muted; }
    CommentModal #problem { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="comment.cancel",
                tooltip=N_("Close without deciding")),
    ]

    def __init__(self, prompt: str, *, required: bool = True, initial: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.prompt = prompt
        self.required = required
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.prompt))
            yield Input(value=self.initial, id="comment")
            yield Label(Text(_("Enter to confirm, Esc to cancel")), id="hint")
            yield Label("", id="problem")

    def on_mount(self) -> None:
        """Start typing at once."""
        self.query_one("#comment", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Confirm the comment (unless it is required and empty)."""
        text = event.value.strip()
        if self.required and not text:
            self.query_one("#problem", Label).update(
                Text(_("Say what to revise: a returned case needs a comment")))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Close without a comment."""
        self.dismiss(None)
