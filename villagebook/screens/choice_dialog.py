"""Pick one of a few choices: `ChoiceDialog(question, [(label, value)])` dismisses with
the value, or None when cancelled."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from villagebook.i18n import N_
from villagebook.screens.widgets.bindings import translate_bindings


class ChoiceDialog(ModalScreen[str | None]):
    """A question with one button per choice."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="choice.cancel",
                tooltip=N_("Close without choosing")),
    ]

    def __init__(self, question: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        translate_bindings(self)
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question))
            with Horizontal():
                for index, (label, _value) in enumerate(self.choices):
                    yield Button(Text(label), id=f"choice-{index}", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The chosen button's value."""
        index = int((event.button.id or "choice-0").removeprefix("choice-"))
        self.dismiss(self.choices[index][1])

    def action_cancel(self) -> None:
        """No choice."""
        self.dismiss(None)
