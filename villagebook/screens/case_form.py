"""The form to log or edit an innovation case: every field of the case, the five
principles as a checklist, fault tolerance, linked ledger problems."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input

from villagebook.domain.fields import CASE, Entity
from villagebook.i18n import N_, _
from villagebook.screens.widgets.form_screen import RecordFormScreen
from villagebook.store.node import Store


class CaseFormScreen(RecordFormScreen):
    """Create (record_id None) or edit a case."""

    ENTITY: ClassVar[Entity] = CASE
    SKIP: ClassVar[tuple[str, ...]] = ("unit_code", "status", "origin_case_id")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "link_problem", N_("Link problem"), id="case_form.link",
                tooltip=N_("Find a ledger problem by its title and link it to this case")),
    ]

    def action_link_problem(self) -> None:
        """Pick a ledger problem and add its id to the linked problems."""
        from villagebook.domain.validation import split_list
        from villagebook.screens.record_picker import RecordPickerDialog

        def chosen(problem_id: str | None) -> None:
            if not problem_id:
                return
            field = self.query_one("#field-linked_problem_ids", Input)
            ids = split_list(field.value)
            if problem_id not in ids:
                field.value = ", ".join([*ids, problem_id])
            field.focus()

        self.app.push_screen(RecordPickerDialog(
            self.home, _("Which ledger problem does this case address?"), kind="problem"),
            chosen)

    def form_title(self) -> str:
        """New or edit."""
        return _("New innovation case") if self.record_id is None else _("Edit case")

    def read(self, store: Store, record_id: str) -> dict[str, Any]:
        """The case."""
        from villagebook.services.cases import get_case

        return get_case(store, record_id)

    def create(self, store: Store, values: dict[str, Any]) -> str:
        """A new draft."""
        from villagebook.services.cases import create_case

        return create_case(store, values)

    def update(self, store: Store, record_id: str, values: dict[str, Any]) -> None:
        """Changed fields only."""
        from villagebook.services.cases import update_case

        update_case(store, record_id, values)
