"""Who may write what: the authorisation rules, as data.

Every change record names the unit that owns its record (`unit`). Whether the
device that signed it may write it depends on how the signer's unit stands to
that owner: the owner itself (a village writes its own cases and ledger), the
owner's parent (a township reviews its villages' cases), or the district above
(experts score cases). Sync checks every change record against these rules;
the local services follow them too.
"""

from __future__ import annotations

from enum import Enum

from villagebook.domain.enums import CaseStatus


class Writer(str, Enum):
    """How a signer's unit must stand to the record's owning unit."""

    OWNER = "owner"
    PARENT = "parent"
    DISTRICT = "district"


_ENTITY_WRITERS: dict[str, Writer] = {
    "unit": Writer.OWNER,
    "case": Writer.OWNER,
    "problem": Writer.OWNER,
    "followup": Writer.OWNER,
    "review": Writer.PARENT,
    "score": Writer.DISTRICT,
}

#: A case's status is moved by three hands: its unit submits, its township
#: approves or returns, the district records that it was scored.
_CASE_STATUS_WRITERS: dict[str, Writer] = {
    CaseStatus.DRAFT.value: Writer.OWNER,
    CaseStatus.SUBMITTED.value: Writer.OWNER,
    CaseStatus.APPROVED.value: Writer.PARENT,
    CaseStatus.RETURNED.value: Writer.PARENT,
    CaseStatus.SCORED.value: Writer.DISTRICT,
}


def register_entity_writer(entity: str, writer: Writer) -> None:
    """Declare who writes a new kind of record (for areas that add entities)."""
    _ENTITY_WRITERS[entity] = writer


def required_writer(entity: str, field: str, value: object) -> Writer | None:
    """The relation a signer needs to write `value` into `field` of an `entity`
    record (tombstones included); None for kinds nobody may write."""
    if entity == "case" and field == "status" and isinstance(value, str):
        return _CASE_STATUS_WRITERS.get(value)
    return _ENTITY_WRITERS.get(entity)
