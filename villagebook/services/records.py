"""Generic record writes: the single path by which anything changes.

Each function validates, checks the domain rules, then writes the change
records and their projection in one transaction. Screens, commands, the
importer and the demo all come through here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from villagebook.domain.change_rules import fixed_fields
from villagebook.domain.fields import DELETED_FIELD, ENTITIES, Entity, Kind
from villagebook.domain.validation import FieldError, ValidationError, validate
from villagebook.services.errors import RecordNotFound
from villagebook.store import changelog
from villagebook.store.node import Store

T = TypeVar("T")


def _decode_column(kind: Kind, value: Any) -> Any:
    if kind in (Kind.CHOICES, Kind.REFS):
        return json.loads(value) if value else []
    if kind is Kind.BOOL:
        return None if value is None else bool(value)
    return value


def select_dicts(store: Store, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of a read-only query as dicts keyed by column name (service-internal use)."""
    cursor = store.conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def row_to_record(entity: Entity, row: Mapping[str, Any]) -> dict[str, Any]:
    """A projection row as a record: `id` plus every field, lists and booleans decoded."""
    record: dict[str, Any] = {"id": row[entity.key]}
    for spec in entity.fields:
        record[spec.name] = _decode_column(spec.kind, row[spec.name])
    return record


def get_record(store: Store, entity_name: str, record_id: str) -> dict[str, Any] | None:
    """One live record, or None."""
    entity = ENTITIES[entity_name]
    cursor = store.conn.execute(
        f"SELECT * FROM {entity.table} WHERE {entity.key} = ?", (record_id,)
    )
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column[0] for column in cursor.description]
    return row_to_record(entity, dict(zip(names, row, strict=True)))


def require_record(store: Store, entity_name: str, record_id: str) -> dict[str, Any]:
    """One live record; RecordNotFound otherwise."""
    record = get_record(store, entity_name, record_id)
    if record is None:
        raise RecordNotFound(entity_name, record_id)
    return record


def write_changes(
    store: Store,
    entity_name: str,
    record_id: str,
    owner: str,
    values: Mapping[str, Any],
    *,
    fresh: bool = False,
) -> changelog.ApplyOutcome:
    """Record already-validated values as change records and apply them (one transaction)."""
    with store.transaction() as conn:
        stamp = store.tick()
        changes = changelog.local_changes(
            conn,
            hlc=stamp,
            device_id=store.node.device_id,
            entity=entity_name,
            record_id=record_id,
            unit=owner,
            values=values,
            fresh=fresh,
        )
        return changelog.apply(conn, changes)


def new_id(store: Store) -> str:
    """A fresh record id."""
    return changelog.new_record_id(store.wall_ms())


def create_record(
    store: Store, entity_name: str, data: Mapping[str, Any], *, owner: str
) -> str:
    """Validate and create a record owned by unit `owner`; returns its new id."""
    entity = ENTITIES[entity_name]
    parsed = validate(entity, data, creating=True)
    record_id = (
        parsed[entity.key] if entity.key in parsed else changelog.new_record_id(store.wall_ms())
    )
    values = {name: value for name, value in parsed.items() if value not in (None, [])}
    write_changes(store, entity_name, record_id, owner, values, fresh=entity.key == "id")
    return str(record_id)


def bulk_create(
    store: Store, entity_name: str, items: Iterable[tuple[str, str, Mapping[str, Any]]]
) -> int:
    """Validate and create many records, given as (record id, owner unit, data), in
    one transaction: all of them or, on any invalid record, none. Returns the count.
    """
    entity = ENTITIES[entity_name]
    device_id = store.node.device_id
    created = 0
    with store.transaction(bulk=True) as conn:
        index = changelog.IndexQueue(conn)
        for batch in _batches(items, 2000):
            stamp = store.tick(len(batch))
            minted = []
            for offset, (record_id, owner, data) in enumerate(batch):
                parsed = validate(entity, data, creating=True)
                values = {k: v for k, v in parsed.items() if v not in (None, [])}
                minted.append(changelog.MintedRecord(record_id, owner, stamp + offset, values))
            changelog.apply_minted(conn, entity, device_id, minted, index)
            created += len(batch)
        index.flush()
    return created


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def changed_values(
    entity: Entity, current: Mapping[str, Any], data: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate `data` against `entity` and keep only what differs from `current`.

    Immutable fields may be restated but not changed.
    """
    parsed = validate(entity, data, creating=False)
    changed = {name: value for name, value in parsed.items() if current.get(name) != value}
    frozen = fixed_fields(entity, changed)
    if frozen:
        raise ValidationError([FieldError(name, "cannot be changed once set") for name in frozen])
    return changed


def update_record(
    store: Store, entity_name: str, record_id: str, data: Mapping[str, Any], *, owner: str
) -> list[str]:
    """Apply validated edits to a record; returns the names of the fields that changed."""
    entity = ENTITIES[entity_name]
    current = require_record(store, entity_name, record_id)
    changed = changed_values(entity, current, data)
    if changed:
        write_changes(store, entity_name, record_id, owner, changed)
    return sorted(changed)


def delete_record(store: Store, entity_name: str, record_id: str, *, owner: str) -> None:
    """Delete a record for good: a tombstone change that travels with the next bundle."""
    require_record(store, entity_name, record_id)
    write_changes(store, entity_name, record_id, owner, {DELETED_FIELD: True})
