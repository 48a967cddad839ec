"""The problem ledger: overdue entries marked, filters by status, urgency and
category, live search, keyset paging."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from villagebook.domain.enums import Choice, ProblemCategory, ProblemStatus, Urgency
from villagebook.i18n import N_, _
from villagebook.screens.widgets.paged_table import RowFormatter
from villagebook.screens.widgets.record_list import RecordListScreen
from villagebook.services.explain import display_value
from villagebook.services.messages import safe_text


def problem_cells(row: dict[str, Any], overdue: bool) -> list[Any]:
    """The cells of one ledger row; an overdue deadline is marked in red."""
    deadline = Text(safe_text(row["deadline"] or ""))
    if overdue:
        deadline = Text(_("{date} overdue").format(date=safe_text(row["deadline"])),
                        style="bold red")
    urgency = Text(display_value("problem", "urgency", row["urgency"]),
                   style="bold" if row["urgency"] == Urgency.HIGH.value else "")
    return [row["title"], display_value("problem", "status", row["status"]), urgency,
            display_value("problem", "category", row["category"]), deadline,
            row["responsible_person"] or ""]


class ProblemListScreen(RecordListScreen):
    """Every ledger entry this node holds."""

    KIND = "problem"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "toggle_overdue", N_("Overdue"), id="problems.overdue",
                tooltip=N_("Show only overdue problems, or all again")),
        Binding("e", "edit", N_("Edit"), id="problems.edit",
                tooltip=N_("Edit the highlighted problem")),
    ]

    def screen_title(self) -> str:
        """The screen's title."""
        return _("Problem ledger")

    def columns(self) -> list[tuple[str, int]]:
        """Title first and widest; widths in cells."""
        return [(_("Problem title"), 24), (_("Status"), 6), (_("Urgency"), 4),
                (_("Category"), 10), (_("Deadline"), 15), (_("Responsible"), 6)]

    def formatter(self) -> RowFormatter:
        """Cells of one row."""
        return problem_cells

    def filter_choices(self) -> list[tuple[str, str, type[Choice]]]:
        """Status, urgency and category."""
        return [("status", _("All statuses"), ProblemStatus),
                ("urgency", _("All urgencies"), Urgency),
                ("category", _("All categories"), ProblemCategory)]

    def action_toggle_overdue(self) -> None:
        """Overdue only ↔ all."""
        self.overdue_only = not self.overdue_only
        self._reload()

    def action_edit(self) -> None:
        """The form of the highlighted problem."""
        from villagebook.screens.problem_form import ProblemFormScreen

        problem_id = self.highlighted_id()
        if problem_id:
            self.app.push_screen(ProblemFormScreen(self.home, problem_id))
