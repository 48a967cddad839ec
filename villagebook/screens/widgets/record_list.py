"""What the case list and the problem ledger share: a filter bar (live search,
choice filters, sort) above a keyset-paged table, and a status line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from villagebook.domain.enums import Choice
from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.paged_table import PagedTable, RowFormatter

#: Wait this long after the last keystroke before searching (an input method
#: sends several keys for one character).
SEARCH_DELAY = 0.3


class RecordListScreen(Screen[None]):
    """A list of one kind of record; subclasses say which columns and filters."""

    KIND = "case"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", N_("Search"), id="list.search",
                tooltip=N_("Type part of a title (two Chinese characters are enough)")),
        Binding("n", "new", N_("New"), id="list.new", tooltip=N_("Add a new record")),
        Binding("enter", "open_row", N_("Open"), id="list.open", show=False,
                tooltip=N_("Show the highlighted record")),
        Binding("o", "toggle_sort", N_("Sort"), id="list.sort",
                tooltip=N_("Newest first, or by title")),
        Binding("escape", "back", N_("Back"), id="list.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, *, filters: dict[str, str] | None = None,
                 overdue_only: bool = False, open_only: bool = False) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.filters = dict(filters or {})
        self.overdue_only = overdue_only
        self.open_only = open_only
        self.sort = "recent"
        self._search_timer: Timer | None = None

    # Subclasses fill these in.
    def columns(self) -> list[tuple[str, int]]:
        """(label, width) of each column."""
        raise NotImplementedError

    def formatter(self) -> RowFormatter:
        """Cells of one row."""
        raise NotImplementedError

    def filter_choices(self) -> list[tuple[str, str, type[Choice]]]:
        """(field name, "all …" label, choices) of each filter select."""
        raise NotImplementedError

    def screen_title(self) -> str:
        """The screen's title."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="filter-bar"):
            yield Input(placeholder=_("/ Search titles…"), id="search")
            for name, blank, choices in self.filter_choices():
                options = [(Text(_(member.label)), member.value) for member in choices]
                current = self.filters.get(name) or Select.NULL
                yield Select(options, prompt=blank, value=current, id=f"filter-{name}")
        yield PagedTable(self.home, self.columns(), self.formatter(), id="rows")
        yield Static(Text(_("Loading…")), id="list-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        """Title and the first page."""
        self.title = self.screen_title()
        self.query_one("#rows", PagedTable).focus()
        self._reload()

    def on_screen_resume(self) -> None:
        """Back from a form or a detail: show the changes."""
        table = self.query_one("#rows", PagedTable)
        if table.page is not None:
            table.refresh_rows()

    def list_query(self) -> Any:
        """The `ListQuery` the filter bar describes."""
        from villagebook.services.listing import ListQuery

        return ListQuery(self.KIND, filters=dict(self.filters),
                         search=self.query_one("#search", Input).value,
                         overdue_only=self.overdue_only, open_only=self.open_only,
                         sort=self.sort)

    def _reload(self) -> None:
        self.query_one("#rows", PagedTable).show(self.list_query())

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self._reload)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self._reload()
        self.query_one("#rows", PagedTable).focus()

    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        name = (event.select.id or "").removeprefix("filter-")
        value = event.value if isinstance(event.value, str) else ""
        if self.filters.get(name, "") != value:
            self.filters[name] = value
            self._reload()

    @on(PagedTable.PageShown)
    def _page_shown(self, event: PagedTable.PageShown) -> None:
        table = event.table
        total = table.total or 0
        if not total:
            text = _("Nothing here yet: press n to add one") if not self._narrowed() \
                else _("Nothing matches these filters")
        else:
            text = _("{total} records · End jumps to the last, Home to the first").format(
                total=f"{total:,}")
        if self.overdue_only:
            text = _("Overdue only · {status}").format(status=text)
        self.query_one("#list-status", Static).update(Text(text))

    def _narrowed(self) -> bool:
        return bool(any(self.filters.values()) or self.overdue_only or self.open_only
                    or self.query_one("#search", Input).value.strip())

    @on(DataTable.RowSelected, "#rows")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_record(event.row_key.value)

    def highlighted_id(self) -> str | None:
        """Id of the highlighted row, if any."""
        table = self.query_one("#rows", PagedTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value

    def open_record(self, record_id: str) -> None:
        """Open a record's detail."""
        self.app.open_record(self.KIND, record_id)  # type: ignore[attr-defined]

    def action_open_row(self) -> None:
        """Open the highlighted record."""
        record_id = self.highlighted_id()
        if record_id:
            self.open_record(record_id)

    def action_focus_search(self) -> None:
        """Put the cursor in the search box."""
        self.query_one("#search", Input).focus()

    def action_new(self) -> None:
        """A blank form."""
        self.app.action_open_new(self.KIND)  # type: ignore[attr-defined]

    def action_toggle_sort(self) -> None:
        """Newest first ↔ by title."""
        self.sort = "title" if self.sort == "recent" else "recent"
        self.notify(_("Sorted by title") if self.sort == "title" else _("Newest first"),
                    markup=False, timeout=2)
        self._reload()

    def action_back(self) -> None:
        """From the search box back to the table; from the table back to the dashboard."""
        if isinstance(self.focused, (Input, Select)):
            self.query_one("#rows", PagedTable).focus()
        else:
            self.app.pop_screen()
