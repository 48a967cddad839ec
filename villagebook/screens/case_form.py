"""The form to log or edit an innovation case: every field of the case, the five
principles as a checklist, fault tolerance, linked ledger problems."""

from __future__ import annotations

from typing import Any, ClassVar

from villagebook.domain.fields import CASE, Entity
from villagebook.i18n import _
from villagebook.screens.widgets.form_screen import RecordFormScreen
from villagebook.store.node import Store


class CaseFormScreen(RecordFormScreen):
    """Create (record_id None) or edit a case."""

    ENTITY: ClassVar[Entity] = CASE
    SKIP: ClassVar[tuple[str, ...]] = ("unit_code", "status", "origin_case_id")

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
