"""Small horizontal bar charts made of block characters, aligned for wide characters."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text


def pad(label: str, width: int) -> str:
    """`label` padded with spaces to `width` terminal cells (Chinese counts two)."""
    while cell_len(label) > width:
        label = label[:-1]
    return label + " " * (width - cell_len(label))


def bar_line(label: str, value: int, largest: int, *, label_width: int = 16,
             bar_width: int = 20, style: str = "") -> Text:
    """One line of a bar chart: label, bar, value."""
    filled = 0 if largest <= 0 else round(bar_width * value / largest)
    if value and not filled:
        filled = 1
    line = Text(pad(label, label_width) + " ")
    line.append("█" * filled, style=style or "bold")
    line.append("░" * (bar_width - filled), style="dim")
    line.append(f" {value:>6,}")
    return line
