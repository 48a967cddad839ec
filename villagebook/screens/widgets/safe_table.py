"""A DataTable that never parses user data: every cell is wrapped in `Text`.

Strings become `Text(safe_text(value))`, so `[red]x[/]` shows as typed and
escape sequences show as `\\x1b` instead of reaching the terminal.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from villagebook.services.messages import safe_text


def cell(value: Any, style: str = "") -> Text:
    """One table cell (or label) from user data, shown literally."""
    if isinstance(value, Text):
        return value
    return Text(safe_text("" if value is None else value), style=style, no_wrap=True,
                overflow="ellipsis")


class SafeTable(DataTable[Text]):
    """A row-cursor DataTable whose cells are always literal text."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)

    def add_safe_row(self, *cells: Any, key: str | None = None) -> None:
        """Add a row of user values (each wrapped in `Text`)."""
        self.add_row(*(cell(value) for value in cells), key=key)
