"""The form to add or edit a ledger problem (its status moves on the detail view)."""

from __future__ import annotations

from typing import Any, ClassVar

from villagebook.domain.fields import PROBLEM, Entity
from villagebook.i18n import _
from villagebook.screens.widgets.form_screen import RecordFormScreen
from villagebook.store.node import Store


class ProblemFormScreen(RecordFormScreen):
    """Create (record_id None) or edit a ledger problem."""

    ENTITY: ClassVar[Entity] = PROBLEM
    SKIP: ClassVar[tuple[str, ...]] = ("unit_code", "status")

    def form_title(self) -> str:
        """New or edit."""
        return _("New ledger problem") if self.record_id is None else _("Edit problem")

    def read(self, store: Store, record_id: str) -> dict[str, Any]:
        """The problem."""
        from villagebook.services.problems import get_problem

        return get_problem(store, record_id)

    def create(self, store: Store, values: dict[str, Any]) -> str:
        """A new open entry; the reported date defaults to today."""
        from villagebook.services.problems import create_problem

        values = dict(values)
        if not values.get("reported_date"):
            values["reported_date"] = store.today().isoformat()
        return create_problem(store, values)

    def update(self, store: Store, record_id: str, values: dict[str, Any]) -> None:
        """Changed fields only."""
        from villagebook.services.problems import update_problem

        update_problem(store, record_id, values)
