"""The list of innovation cases: live search, filters by status and direction,
sort, and a keyset-paged table that stays fast with 100k cases."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from villagebook.domain.enums import CaseStatus, Choice, Direction
from villagebook.i18n import N_, _
from villagebook.screens.widgets.paged_table import RowFormatter
from villagebook.screens.widgets.record_list import RecordListScreen
from villagebook.services.explain import display_value


def case_cells(row: dict[str, Any], _overdue: bool) -> list[Any]:
    """The cells of one case row."""
    return [row["title"], display_value("case", "status", row["status"]),
            display_value("case", "direction", row["direction"]), row["start_date"] or "",
            row["lead_person"] or ""]


class CaseListScreen(RecordListScreen):
    """Every case this node holds."""

    KIND = "case"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", N_("Edit"), id="cases.edit", tooltip=N_("Edit the highlighted case")),
    ]

    def screen_title(self) -> str:
        """The screen's title."""
        return _("Innovation cases")

    def columns(self) -> list[tuple[str, int]]:
        """Title first and widest; widths in cells (a Chinese character takes two)."""
        return [(_("Case title"), 28), (_("Status"), 8), (_("Direction"), 12),
                (_("Start date"), 10), (_("Lead person"), 6)]

    def formatter(self) -> RowFormatter:
        """Cells of one row."""
        return case_cells

    def filter_choices(self) -> list[tuple[str, str, type[Choice]]]:
        """Status and direction."""
        return [("status", _("All statuses"), CaseStatus),
                ("direction", _("All directions"), Direction)]

    def action_edit(self) -> None:
        """The form of the highlighted case."""
        from villagebook.screens.case_form import CaseFormScreen

        case_id = self.highlighted_id()
        if case_id:
            self.app.push_screen(CaseFormScreen(self.home, case_id))
