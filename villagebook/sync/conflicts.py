"""Concurrent edits of one field, waiting for a person: listing and resolving.

A conflict is a field with two or more heads (writers who had not seen each
other's change). Until someone picks, the display shows a deterministic winner.
Resolving writes one new change that replaces every head, and it travels like
any other edit, so every node ends with the chosen value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from villagebook.domain.change_rules import content_editable
from villagebook.domain.clock import to_datetime
from villagebook.services.errors import Refused
from villagebook.services.records import write_changes
from villagebook.store import changelog
from villagebook.store.node import Store
from villagebook.sync import trust
from villagebook.sync.authorise import may_write


@dataclass(frozen=True)
class Candidate:
    """One of the competing values: who wrote it, when."""

    change_id: str
    value: Any
    written_at: str
    device_id: str
    writer_unit: str


@dataclass(frozen=True)
class ConflictView:
    """A field in conflict, the shown winner first."""

    conflict_id: str
    entity: str
    record_id: str
    field: str
    owner: str
    candidates: tuple[Candidate, ...]


def conflict_id(entity: str, record_id: str, name: str) -> str:
    """A short, stable id to type on the command line."""
    return hashlib.sha256(f"{entity}\0{record_id}\0{name}".encode()).hexdigest()[:10]


def _writers(store: Store) -> dict[str, str]:
    units = {store.node.device_id: store.node.unit_code}
    for device, unit in store.conn.execute(
            "SELECT device_id, unit_code FROM sync_key WHERE device_id IS NOT NULL"):
        units[device] = unit
    return units


def list_conflicts(store: Store) -> list[ConflictView]:
    """Every field in conflict, by kind, record and field."""
    writers = _writers(store)
    views = []
    for found in changelog.conflicts(store.conn):
        candidates = tuple(
            Candidate(head.change_id, head.decoded(),
                      to_datetime(head.hlc).isoformat(timespec="seconds"), head.device_id,
                      writers.get(head.device_id, ""))
            for head in found.heads)
        owner = found.heads[0].unit if found.heads else ""
        views.append(ConflictView(conflict_id(found.entity, found.record_id, found.field),
                                  found.entity, found.record_id, found.field, owner,
                                  candidates))
    return views


def resolve(store: Store, wanted: str, keep: str) -> ConflictView:
    """Keep the value of change `keep` for conflict `wanted`: a new change replacing all heads."""
    view = next((v for v in list_conflicts(store) if v.conflict_id == wanted.strip()), None)
    if view is None:
        raise Refused("No conflict with id {id}", id=wanted)
    chosen = next((c for c in view.candidates if c.change_id == keep.strip()), None)
    if chosen is None:
        raise Refused("Conflict {id} has no value {value}; pick one of the listed change ids",
                      id=wanted, value=keep)
    mine = trust.own_key(store)
    if not may_write(mine.unit, mine.role, view.entity, view.field, chosen.value, view.owner,
                     trust.hierarchy(store)):
        raise Refused("Only the unit that may write this field can settle it ({unit})",
                      unit=view.owner)
    if view.entity == "case" and view.field != "status":
        _check_editable(store, view.record_id)
    write_changes(store, view.entity, view.record_id, view.owner, {view.field: chosen.value})
    return view


def _check_editable(store: Store, case_id: str) -> None:
    """Settling a case's content is editing it: only while its unit may edit it (the
    same rule merges apply, `change_rules`)."""
    row = store.conn.execute("SELECT status FROM innovation_case WHERE id = ?",
                             (case_id,)).fetchone()
    if row is not None and not content_editable(row[0]):
        raise Refused("This case is {status} and can no longer be edited",
                      status=row[0])
