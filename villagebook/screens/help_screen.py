"""F1: every key of the screen the user was on, with what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.safe_table import SafeTable


class HelpScreen(ModalScreen[None]):
    """The keys of one screen: key, what it does, a longer explanation."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", N_("Close"), id="help.close",
                tooltip=N_("Back to the screen")),
    ]

    def __init__(self, screen_title: str, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        translate_bindings(self)
        self.screen_title = screen_title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(_("Keys of this screen: {screen}").format(
                screen=self.screen_title), style="bold"))
            yield SafeTable(id="keys")
            yield Static(Text(_("Ctrl+P finds any case or problem by its title. "
                                "Esc or F1 closes this help.")), classes="hint")

    def on_mount(self) -> None:
        """Fill the key table."""
        table = self.query_one("#keys", SafeTable)
        table.add_column(_("Key"), width=12)
        table.add_column(_("Action"), width=18)
        table.add_column(_("What it does"), width=44)
        for key, description, tooltip in self.rows:
            table.add_safe_row(key, description, tooltip)
        table.focus()

    def action_close(self) -> None:
        """Back to the screen."""
        self.dismiss(None)
