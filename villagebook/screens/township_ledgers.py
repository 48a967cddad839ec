"""The ledgers of all the township's units: overdue entries first, filtered by unit.

The left table lists units with their open and overdue counts (most overdue
first); Enter on a unit shows only its ledger, `a` shows every unit's again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text

#: A district holds tens of thousands of entries; the table shows the most urgent ones.
MAX_ROWS = 2000


@dataclass
class LedgersLoaded(Message):
    """Units and ledger rows were read (rows of `unit_code` only, when set)."""

    units: list[dict[str, Any]]
    rows: list[Any]
    unit_code: str | None


class TownshipLedgersScreen(ReportsFailedWorkers, Screen[None]):
    """Ledger entries of every unit, overdue first; filter by unit."""

    DEFAULT_CSS = """
    TownshipLedgersScreen #status { height: 1; background: $boost; padding: 0 1; }
    TownshipLedgersScreen #units { width: 36; }
    TownshipLedgersScreen #problems { width: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "all_units", N_("All units"), id="ledgers.all",
                tooltip=N_("Show the ledgers of every unit")),
        Binding("x", "export_report", N_("Export"), id="ledgers.export",
                tooltip=N_("Write this list as a spreadsheet in the home's reports folder")),
        Binding("escape", "app.pop_screen", N_("Back"), id="ledgers.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, unit_code: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.unit_code = unit_code

    def compose(self) -> ComposeResult:
        yield Static(Text(_("Loading…")), id="status")
        with Horizontal():
            units: DataTable[Text] = DataTable(id="units", cursor_type="row")
            yield units
            problems: DataTable[Text] = DataTable(id="problems", cursor_type="row",
                                                  zebra_stripes=True)
            yield problems
        yield Footer()

    def on_mount(self) -> None:
        """Set the columns up and read the ledgers."""
        self.title = _("Ledgers of the units")
        units = self.query_one("#units", DataTable)
        for label, width in ((_("Unit"), 12), (_("Problems"), 6), (_("Unresolved"), 6),
                             (_("Overdue"), 4)):
            units.add_column(label, width=width)
        problems = self.query_one("#problems", DataTable)
        for label, width in ((_("Overdue"), 4), (_("Deadline"), 10), (_("Problem title"), 20),
                             (_("Unit"), 10), (_("Status"), 8),
                             (_("Responsible person"), 8)):
            problems.add_column(label, width=width)
        self.load(self.unit_code)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self, unit_code: str | None) -> None:
        """Read the unit summary and the (filtered) ledger rows."""
        from villagebook.services.oversight import ledger_overview, ledger_units
        from villagebook.store.node import Store

        with Store(self.home) as store:
            units = ledger_units(store)
            rows = ledger_overview(store, unit_code)
        self.post_message(LedgersLoaded(units, rows, unit_code))

    def on_ledgers_loaded(self, message: LedgersLoaded) -> None:
        """Fill both tables."""
        from villagebook.domain.enums import ProblemStatus

        self.unit_code = message.unit_code
        units = self.query_one("#units", DataTable)
        if units.row_count != len(message.units):
            units.clear()
            for unit in message.units:
                units.add_row(
                    Text(safe_text(unit["unit_name"])),
                    Text(str(unit["problems"]), justify="right"),
                    Text(str(unit["open"]), justify="right"),
                    Text(str(unit["overdue"]), justify="right",
                         style="bold red" if unit["overdue"] else ""),
                    key=unit["unit_code"])
        problems = self.query_one("#problems", DataTable)
        problems.clear()
        for row in message.rows[:MAX_ROWS]:
            problems.add_row(
                Text(_("Overdue") if row.overdue else "", style="bold red"),
                # The villages' words: escapes shown as text, never sent to the terminal.
                Text(row.deadline or ""), Text(safe_text(row.title)),
                Text(safe_text(row.unit_name)), Text(_(ProblemStatus(row.status).label)),
                Text(safe_text(row.responsible_person)),
                key=row.problem_id)
        overdue = sum(1 for row in message.rows if row.overdue)
        scope = (next((u["unit_name"] for u in message.units
                       if u["unit_code"] == message.unit_code), message.unit_code)
                 if message.unit_code else _("all units"))
        status = _("{scope}: {count} ledger entries, {overdue} overdue").format(
            scope=safe_text(scope), count=len(message.rows), overdue=overdue)
        if len(message.rows) > MAX_ROWS:
            status += "  " + _("(the first {shown} are shown)").format(shown=MAX_ROWS)
        self.query_one("#status", Static).update(Text(status))

    @on(DataTable.RowSelected, "#units")
    def _unit_chosen(self, event: DataTable.RowSelected) -> None:
        self.load(event.row_key.value)

    def action_all_units(self) -> None:
        """Show every unit's ledger again."""
        self.load(None)

    def action_export_report(self) -> None:
        """Write the problem report into the home's reports folder."""
        from villagebook.screens.widgets.report_export import write_report_from

        write_report_from(self, self.home, "problem", None)
