"""A table that reads its rows a page at a time (keyset paging) on a worker thread.

Only one page (a hundred rows) is ever held: moving past the last row reads the
next page, past the first row the previous one, and End / Home jump to the
last / first page directly. So a list of 100k cases opens as fast as a list
of ten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from villagebook.i18n import N_
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.safe_table import SafeTable
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers

#: Turns one row (and whether it is overdue) into the cells shown.
RowFormatter = Callable[[dict[str, Any], bool], list[Any]]


@dataclass
class PageLoaded(Message):
    """A page was read (its rows, and the list's size when counted), and where the
    cursor goes."""

    table: PagedTable
    page: Any
    cursor: str  # "first" | "last"
    generation: int


class PagedTable(ReportsFailedWorkers, SafeTable):
    """Rows of a `ListQuery`, read a page at a time."""

    PAGE_SIZE = 100
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end,ctrl+end", "last_page", N_("Last"), show=False, id="table.last",
                tooltip=N_("Jump to the end of the list")),
        Binding("home,ctrl+home", "first_page", N_("First"), show=False, id="table.first",
                tooltip=N_("Jump to the start of the list")),
    ]

    def __init__(self, home: Path, columns: list[tuple[str, int]], formatter: RowFormatter,
                 *, id: str | None = None) -> None:
        super().__init__(id=id)
        translate_bindings(self)
        self.home = home
        self.columns_spec = columns
        self.formatter = formatter
        self.query_spec: Any = None
        self.page: Any = None
        self.total: int | None = None
        self.loading_page = False
        self.generation = 0
        self.shown_generation = 0  # the generation of the page on screen

    def on_mount(self) -> None:
        """Fixed widths (a Chinese character takes two cells): the layout holds at 80 columns."""
        for label, width in self.columns_spec:
            self.add_column(label, width=width)

    def on_resize(self) -> None:
        """The first column (the title) takes whatever width a larger terminal offers."""
        if not self.columns:
            return
        first, *rest = self.columns.values()
        others = sum(column.width + 2 * self.cell_padding for column in rest)
        wanted = max(self.columns_spec[0][1], self.size.width - others - 2 * self.cell_padding - 2)
        if first.width != wanted:
            first.width = wanted
            self._require_update_dimensions = True
            self.refresh()

    def show(self, query: Any) -> None:
        """Show a (new) query from its first page."""
        self.query_spec = query
        self.generation += 1
        self._load(query, None, None, False, True, self.generation)

    def refresh_rows(self) -> None:
        """Read the current query again from the start (after a change)."""
        if self.query_spec is not None:
            self.show(self.query_spec)

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def _load(self, query: Any, after: Any, before: Any, from_end: bool, with_total: bool,
              generation: int) -> None:
        from villagebook.services.listing import overdue_flags, page
        from villagebook.store.node import Store

        with Store(self.home) as store:
            found = page(store, query, after=after, before=before, from_end=from_end,
                         size=self.PAGE_SIZE, with_total=with_total)
            flags = (overdue_flags(store, found.rows) if query.kind == "problem"
                     else [False] * len(found.rows))
        found.rows[:] = [dict(row, _cells=self.formatter(row, flag))
                         for row, flag in zip(found.rows, flags, strict=True)]
        cursor = "last" if before is not None or from_end else "first"
        self.post_message(PageLoaded(self, found, cursor, generation))

    def on_page_loaded(self, message: PageLoaded) -> None:
        """Swap the shown rows for the page that was read."""
        message.stop()
        if message.generation != self.generation:
            return
        self.loading_page = False
        self.page = message.page
        self.shown_generation = message.generation
        if message.page.total is not None:
            self.total = message.page.total
        self.clear()
        for row in message.page.rows:
            self.add_safe_row(*row["_cells"], key=row["id"])
        if self.row_count:
            self.move_cursor(row=0 if message.cursor == "first" else self.row_count - 1)
        self.post_message(self.PageShown(self))

    class PageShown(Message):
        """The table shows another page (for a status line)."""

        def __init__(self, table: PagedTable) -> None:
            super().__init__()
            self.table = table

    def _step(self, forwards: bool) -> bool:
        if self.page is None or self.loading_page:
            return False
        sort = self.query_spec.sort
        if forwards and self.page.more_after and self.cursor_row >= self.row_count - 1:
            self.loading_page = True
            self._load(self.query_spec, self.page.last_key(sort), None, False, False,
                       self.generation)
            return True
        if not forwards and self.page.more_before and self.cursor_row <= 0:
            self.loading_page = True
            self._load(self.query_spec, None, self.page.first_key(sort), False, False,
                       self.generation)
            return True
        return False

    def action_cursor_down(self) -> None:
        """Down, or on to the next page from the last row."""
        if not self._step(True):
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        """Up, or back to the previous page from the first row."""
        if not self._step(False):
            super().action_cursor_up()

    def action_page_down(self) -> None:
        """A screen down, or the next page from the last row."""
        if not self._step(True):
            super().action_page_down()

    def action_page_up(self) -> None:
        """A screen up, or the previous page from the first row."""
        if not self._step(False):
            super().action_page_up()

    def action_last_page(self) -> None:
        """The end of the list."""
        if self.query_spec is not None:
            self._load(self.query_spec, None, None, True, False, self.generation)

    def action_first_page(self) -> None:
        """The start of the list."""
        if self.query_spec is not None:
            self._load(self.query_spec, None, None, False, False, self.generation)
