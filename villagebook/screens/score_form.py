"""The expert's score form: name, score 0–100 and a comment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings


@dataclass(frozen=True)
class ScoreEntry:
    """What the expert typed (validated by the service, not here)."""

    expert: str
    score: str
    comment: str


class ScoreForm(ModalScreen[ScoreEntry | None]):
    """Ask for an expert's score; dismisses with the entry, or None when cancelled."""

    DEFAULT_CSS = """
    ScoreForm { align: center middle; }
    ScoreForm > Vertical {
        width: 70; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    ScoreForm #hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="score.cancel",
                tooltip=N_("Close without scoring")),
    ]

    def __init__(self, case_title: str, expert: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.case_title = case_title
        self.expert = expert

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.case_title, style="bold"))
            yield Label(Text(_("Expert")))
            yield Input(value=self.expert, id="expert")
            yield Label(Text(_("Score (0–100)")))
            yield Input(id="score", type="integer", max_length=3)
            yield Label(Text(_("Comment")))
            yield Input(id="comment")
            yield Label(Text(_("Enter to confirm, Esc to cancel")), id="hint")

    def on_mount(self) -> None:
        """Start where typing is needed: the score if the expert is known."""
        self.query_one("#score" if self.expert else "#expert", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; on the last one it confirms."""
        order = ["expert", "score", "comment"]
        index = order.index(event.input.id or "comment")
        if index < len(order) - 1:
            self.query_one(f"#{order[index + 1]}", Input).focus()
            return
        self.dismiss(ScoreEntry(self.query_one("#expert", Input).value,
                                self.query_one("#score", Input).value,
                                self.query_one("#comment", Input).value))

    def action_cancel(self) -> None:
        """Close without a score."""
        self.dismiss(None)
