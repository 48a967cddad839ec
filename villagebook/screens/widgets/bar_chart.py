"""Small horizontal bar charts made of block characters, aligned for wide characters."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text

#: Cells a bar line needs besides its label and bar: a space, the value (" 12,345") and
#: one spare cell at the right edge.
_VALUE_CELLS = 9
_MIN_BAR = 5
#: Labels may take this many cells even when that is more than two thirds of the line:
#: eleven Chinese characters, the longest label ("工作落实中的创造性贯彻").
_LABEL_CELLS = 22


def pad(label: str, width: int) -> str:
    """`label` padded with spaces to `width` terminal cells (Chinese counts two); a label
    too long for them is cut and ends in "…"."""
    if cell_len(label) > width:
        while label and cell_len(label) + 1 > width:
            label = label[:-1]
        label += "…" if width else ""
    return label + " " * (width - cell_len(label))


def widths(labels: Iterable[str], width: int) -> tuple[int, int]:
    """Label and bar widths for a chart `width` cells wide.

    Labels get room for the longest of them, up to two thirds of the line (at least
    `_LABEL_CELLS`), and the bars keep at least `_MIN_BAR` cells.
    """
    longest = max((cell_len(label) for label in labels), default=0)
    room = width - _VALUE_CELLS
    label_width = max(0, min(longest, room - _MIN_BAR, max(_LABEL_CELLS, room * 2 // 3)))
    return label_width, max(1, room - label_width)


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
