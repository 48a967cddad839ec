"""The dashboard's bar charts: whole labels where they fit, never a line too wide."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from villagebook.domain.enums import Direction
from villagebook.i18n import translate
from villagebook.screens.widgets.bar_chart import bar_line, pad, widths


def test_a_label_too_long_is_cut_with_an_ellipsis_to_exactly_its_width() -> None:
    assert pad("工作落实中的创造性贯彻", 13) == "工作落实中的…"
    assert pad("工作落实中的创造性贯彻", 12) == "工作落实中… "  # a wide character never splits
    assert pad("Breakthrough", 8) == "Breakth…"
    assert pad("草稿", 6) == "草稿  "


def test_the_longest_chinese_direction_label_is_whole_even_at_80_columns() -> None:
    labels = [translate(direction.label, "zh") for direction in Direction]
    assert "工作落实中的创造性贯彻" in labels
    label_width, bar_width = widths(labels, 36)  # a panel of an 80-column terminal
    assert label_width == 22 and bar_width >= 5
    assert pad("工作落实中的创造性贯彻", label_width) == "工作落实中的创造性贯彻"


def test_long_english_labels_leave_the_bars_a_third_of_a_wide_panel() -> None:
    labels = [direction.label for direction in Direction]
    label_width, bar_width = widths(labels, 56)  # a panel of a 120-column terminal
    assert label_width == 31 and bar_width == 16
    assert pad(Direction.PROCESS.label, label_width).endswith("…")


@given(st.lists(st.text(max_size=60), max_size=12), st.integers(min_value=14, max_value=200))
def test_every_line_is_exactly_as_wide_as_the_panel_allows(labels: list[str],
                                                           width: int) -> None:
    label_width, bar_width = widths(labels, width)
    assert bar_width >= 5
    for label in labels:
        line = bar_line(label, 3, 7, label_width=label_width, bar_width=bar_width)
        assert cell_len(line.plain) == width - 1
