"""Authorisation, checked on every change record (not per bundle).

Whether a signer may write a field follows `villagebook.domain.authority`: the
owning unit itself, its parent (the township), or the district. The owning unit
is the change's `unit` claim, and the claim itself is checked: a record keeps one
owner for life, a case's `unit_code` must be its owner, and a follow-up, review,
score or attachment belongs to the owner of the record it hangs on, when that is
known.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from villagebook.domain.authority import Writer, required_writer
from villagebook.domain.enums import AttachmentTarget
from villagebook.domain.fields import DELETED_FIELD, ENTITIES, Entity, Field, Kind
from villagebook.i18n import N_
from villagebook.store.changelog import ChangeSet, chunks
from villagebook.sync.errors import BundleRejected
from villagebook.sync.trust import Hierarchy

_CHANGE_ID = re.compile(r"[0-9a-f]{16}-[0-9a-z]{1,64}-[_a-z0-9]{1,64}\Z")
_RECORD_ID = re.compile(r"[0-9A-Za-z-]{1,64}\Z")  # \Z: `$` let "id\n" through
_MAX_TEXT = 20_000
_ATTACHABLE = frozenset(target.value for target in AttachmentTarget)


def may_write(signer_unit: str, signer_role: str, entity: str, name: str, value: object,
              owner: str, hierarchy: Hierarchy) -> bool:
    """Whether a key of `signer_unit` may write `value` into `name` of a record of `owner`."""
    return _permits(required_writer(entity, name, value), signer_unit, signer_role, owner,
                    hierarchy)


def _permits(writer: Writer | None, signer_unit: str, signer_role: str, owner: str,
             hierarchy: Hierarchy) -> bool:
    if writer is Writer.OWNER:
        return signer_unit == owner
    if writer is Writer.PARENT:
        return hierarchy.parent(owner) == signer_unit
    if writer is Writer.DISTRICT:
        return signer_role == "district"
    return False


def _refuse(what: str, **params: Any) -> BundleRejected:
    return BundleRejected("bad_change", N_("A change record in the bundle is invalid ({what})"),
                          what=what.format(**params))


def check_shape(change_set: ChangeSet) -> Entity:
    """The set names a known entity, known fields, and values of the right types."""
    entity = ENTITIES.get(change_set.entity)
    if entity is None:
        raise _refuse("unknown kind of record {kind}", kind=change_set.entity[:40])
    if not _RECORD_ID.fullmatch(change_set.record_id):
        raise _refuse("record id")
    if not change_set.fields:
        raise _refuse("no fields")
    checks = _CHECKS[entity.name]
    for name, value in change_set.fields.items():
        check = checks.get(name)
        if check is None or not check(value):
            _check_value(entity, name, value)  # says which, and why
    for name, replaced in change_set.replaces.items():
        if name not in change_set.fields or not all(
                isinstance(c, str) and _CHANGE_ID.fullmatch(c) for c in replaced):
            raise _refuse("replaces")
    return entity


def _checker(spec: Field) -> Callable[[object], bool]:
    """A fast type-and-size test for one field's values (None always passes)."""
    if spec.kind is Kind.INT:
        return lambda v: v is None or type(v) is int
    if spec.kind is Kind.BOOL:
        return lambda v: v is None or type(v) is bool
    if spec.is_list:
        return lambda v: v is None or (type(v) is list and len(v) <= 1000 and all(
            type(item) is str and len(item) <= 200 for item in v))
    limit = min(spec.max_length or _MAX_TEXT, _MAX_TEXT)
    return lambda v: v is None or (type(v) is str and len(v) <= limit)


_CHECKS: dict[str, dict[str, Callable[[object], bool]]] = {
    name: {**{spec.name: _checker(spec) for spec in entity.fields},
           DELETED_FIELD: lambda v: v is True}
    for name, entity in ENTITIES.items()
}


def _check_value(entity: Entity, name: str, value: object) -> None:
    check = _CHECKS[entity.name].get(name)
    if check is None:
        raise _refuse("unknown field {field}", field=name[:40])
    if not check(value):
        raise _refuse("value of {field}", field=name)


def check_writer(signer_unit: str, signer_role: str, key_id: str, change_set: ChangeSet,
                 hierarchy: Hierarchy) -> None:
    """Every field change of the set is one its signer may write."""
    entity, owner = change_set.entity, change_set.unit
    decided: dict[Writer | None, bool] = {}  # the fields of a set mostly need one writer
    for name, value in change_set.fields.items():
        writer = required_writer(entity, name, value)
        allowed = decided.get(writer)
        if allowed is None:
            allowed = decided[writer] = _permits(writer, signer_unit, signer_role, owner,
                                                 hierarchy)
        if not allowed:
            raise BundleRejected(
                "unauthorised",
                N_("Key {key} of unit {signer} may not write {field} of a {kind} record of "
                "unit {owner}"),
                key=key_id, signer=signer_unit, field=name, kind=entity, owner=owner)


def _wrong_owner(change_set: ChangeSet) -> BundleRejected:
    return BundleRejected(
        "wrong_owner",
        N_("A change claims record {record} belongs to unit {owner}, but it does not"),
        record=change_set.record_id, owner=change_set.unit)


def check_claims(conn: sqlite3.Connection, sets: Sequence[ChangeSet]) -> set[tuple[str, str]]:
    """Check each set's owner claim against its fields, the batch and the records held.

    Returns the (entity, record id) pairs this node already held before the batch.
    """
    owners: dict[tuple[str, str], str] = {}
    for change_set in sets:
        entity = ENTITIES[change_set.entity]
        key = (change_set.entity, change_set.record_id)
        if owners.setdefault(key, change_set.unit) != change_set.unit:
            raise _wrong_owner(change_set)
        if entity.owner_field == entity.key:
            if change_set.record_id != change_set.unit:
                raise _wrong_owner(change_set)
        elif entity.owner_field and entity.owner_field in change_set.fields and \
                change_set.fields[entity.owner_field] != change_set.unit:
            raise _wrong_owner(change_set)
    held = _held_owners(conn, list(owners))
    for key, unit in owners.items():
        if key in held and held[key] != unit:
            raise BundleRejected("wrong_owner", N_("A change claims record {record} belongs to "
                                 "unit {owner}, but it does not"), record=key[1], owner=unit)
    _check_parents(conn, sets, owners)
    return set(held)


def _held_owners(conn: sqlite3.Connection,
                 keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    by_entity: dict[str, list[str]] = {}
    for entity, record_id in keys:
        by_entity.setdefault(entity, []).append(record_id)
    held: dict[tuple[str, str], str] = {}
    for entity, record_ids in by_entity.items():
        for part in chunks(record_ids):
            rows = conn.execute(
                "SELECT record_id, unit FROM change_set WHERE entity = ? AND record_id IN "
                f"({','.join('?' * len(part))}) GROUP BY record_id, unit", (entity, *part))
            for record_id, unit in rows:
                if held.setdefault((entity, record_id), unit) != unit:
                    held[(entity, record_id)] = ""  # already inconsistent: accept nothing new
    return held


def _check_parents(conn: sqlite3.Connection, sets: Sequence[ChangeSet],
                   owners: dict[tuple[str, str], str]) -> None:
    wanted: list[tuple[ChangeSet, tuple[str, str]]] = []
    for change_set in sets:
        parent = ENTITIES[change_set.entity].parent
        if parent is not None and isinstance(change_set.fields.get(parent[0]), str):
            wanted.append((change_set, (parent[1], change_set.fields[parent[0]])))
        elif change_set.entity == "attachment":
            # An attachment names the record it hangs on in two fields (kind and id):
            # its owner must own that record (a follow-up is its problem owner's).
            kind, record_id = (change_set.fields.get(k) for k in ("record_kind", "record_id"))
            if kind in _ATTACHABLE and isinstance(record_id, str):
                wanted.append((change_set, (str(kind), record_id)))
    if not wanted:
        return
    known = _held_owners(conn, [key for _, key in wanted if key not in owners])
    known.update(owners)
    for change_set, key in wanted:
        if key in known and known[key] != change_set.unit:
            raise _wrong_owner(change_set)
