"""A record shown as labelled lines of literal text (user data never parsed)."""

from __future__ import annotations

from rich.text import Text

from villagebook.i18n import _
from villagebook.services.messages import safe_text


def detail_text(title: str, subtitle: str, lines: list[tuple[str, str]]) -> Text:
    """Title, a muted subtitle, then `label: value` lines; values wrap under their label."""
    text = Text()
    text.append(safe_text(title) + "\n", style="bold")
    text.append(safe_text(subtitle) + "\n\n", style="italic dim")
    for label, value in lines:
        text.append(label + _(": "), style="bold")
        # Long texts keep their own line breaks; control characters are shown escaped.
        text.append("\n".join(safe_text(part) for part in str(value).split("\n")) + "\n")
    return text
