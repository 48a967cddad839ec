"""The change log: every write is a set of field-level change records, and every
table of records is a projection of them.

A change record says: this field of this record now holds this value; written
by this device at this hybrid-logical-clock time; replacing these earlier
changes of the same field (the ones its writer saw as current). A delete is a
tombstone change of the pseudo-field `_deleted`.

Applying changes is insert-or-ignore by change id, followed by recomputing the
affected records from the *set* of changes held. So the state is a function of
that set alone: applying the same changes twice, or in any order, gives the
same tables. That is the whole basis of sync.

Current values: a change that no held change replaces is a *head* of its field
(kept in `field_head`). One head is the value; two or more are a true conflict
(concurrent writers who had not seen each other), shown with a deterministic
winner (latest timestamp, then device id, then change id) until a person picks.
A tombstone is never replaced, so a deleted record never comes back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from villagebook.domain.fields import DELETED_FIELD, ENTITIES, Entity, Kind
from villagebook.store import search_index

_BATCH = 400


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One field-level change, exactly as it travels in a bundle."""

    change_id: str
    entity: str
    record_id: str
    field: str
    value: str
    hlc: int
    device_id: str
    unit: str
    replaces: tuple[str, ...] = ()

    def decoded(self) -> Any:
        """The value as a Python object."""
        return json.loads(self.value)

    def sort_key(self) -> tuple[int, str, str]:
        """Deterministic precedence among concurrent heads: later wins."""
        return (self.hlc, self.device_id, self.change_id)


@dataclass
class ApplyOutcome:
    """What applying a batch of changes did."""

    new: int = 0
    duplicate: int = 0
    affected: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def encode(value: Any) -> str:
    """Canonical JSON: the same value is always the same text (and the same hash)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def new_record_id(wall_ms: int) -> str:
    """A UUID version 7: globally unique, and time-ordered so inserts stay cheap."""
    raw = bytearray((wall_ms & ((1 << 48) - 1)).to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return str(uuid.UUID(bytes=bytes(raw)))


def change_id_for(hlc: int, device_id: str, index: int) -> str:
    """A change id unique across devices, ordered by time on one device."""
    return f"{hlc:016x}-{device_id}-{index:04x}"


def chunks(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items (SQLite caps bound parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def current_heads(conn: sqlite3.Connection, entity: str, record_id: str, name: str) -> list[str]:
    """Change ids currently heading one field (several when in conflict)."""
    rows = conn.execute(
        "SELECT change_id FROM field_head WHERE entity = ? AND record_id = ? AND field = ? "
        "ORDER BY change_id",
        (entity, record_id, name),
    ).fetchall()
    return [row[0] for row in rows]


def local_changes(
    conn: sqlite3.Connection,
    *,
    hlc: int,
    device_id: str,
    entity: str,
    record_id: str,
    unit: str,
    values: Mapping[str, Any],
    fresh: bool = False,
) -> list[ChangeRecord]:
    """Change records for a local write: each replaces what this node sees as current.

    `fresh` skips the head look-up for a record id that was just generated.
    """
    records = []
    for index, (name, value) in enumerate(sorted(values.items())):
        replaces = () if fresh else tuple(current_heads(conn, entity, record_id, name))
        records.append(
            ChangeRecord(
                change_id=change_id_for(hlc, device_id, index),
                entity=entity,
                record_id=record_id,
                field=name,
                value=encode(value),
                hlc=hlc,
                device_id=device_id,
                unit=unit,
                replaces=replaces,
            )
        )
    return records


def apply(
    conn: sqlite3.Connection, changes: Iterable[ChangeRecord], *, all_new: bool = False
) -> ApplyOutcome:
    """Insert the changes not yet held and recompute every record they touch.

    Call inside a transaction. Idempotent and order-independent. `all_new` skips
    the look-up of held ids for changes this node has just minted.
    """
    outcome = ApplyOutcome()
    batch = list(changes)
    fresh: list[ChangeRecord] = batch if all_new else []
    for part in [] if all_new else chunks(batch):
        ids = [change.change_id for change in part]
        known = {
            row[0]
            for row in conn.execute(
                f"SELECT change_id FROM change WHERE change_id IN ({_marks(len(ids))})", ids
            )
        }
        for change in part:
            if change.change_id in known:
                outcome.duplicate += 1
            else:
                known.add(change.change_id)
                fresh.append(change)
    _insert(conn, fresh)
    _derive(conn, fresh)
    outcome.new = len(fresh)
    for change in fresh:
        outcome.affected[change.entity].add(change.record_id)
    _project(conn, outcome.affected)
    return outcome


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _insert(conn: sqlite3.Connection, fresh: Sequence[ChangeRecord]) -> None:
    conn.executemany(
        "INSERT INTO change (change_id, entity, record_id, field, value, hlc, device_id, unit, "
        "replaces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (c.change_id, c.entity, c.record_id, c.field, c.value, c.hlc, c.device_id, c.unit,
             encode(list(c.replaces)))
            for c in fresh
        ),
    )


def _derive(conn: sqlite3.Connection, fresh: Sequence[ChangeRecord]) -> None:
    """Maintain `change_replaces` and `field_head` for newly held changes."""
    conn.executemany(
        "INSERT OR IGNORE INTO change_replaces (replaced_id, change_id) VALUES (?, ?)",
        ((old, c.change_id) for c in fresh for old in c.replaces),
    )
    conn.executemany(
        "DELETE FROM field_head WHERE entity = ? AND record_id = ? AND field = ? "
        "AND change_id = ?",
        ((c.entity, c.record_id, c.field, old) for c in fresh for old in c.replaces),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO field_head (entity, record_id, field, change_id) "
        "SELECT ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM change_replaces WHERE replaced_id = ?)",
        ((c.entity, c.record_id, c.field, c.change_id, c.change_id) for c in fresh),
    )


def _column_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind in (Kind.CHOICES, Kind.REFS):
        return encode(value)
    if kind is Kind.BOOL:
        return 1 if value else 0
    return value


def _project(conn: sqlite3.Connection, affected: Mapping[str, set[str]]) -> None:
    reindex: dict[str, set[str]] = defaultdict(set)
    for name, record_ids in affected.items():
        entity = ENTITIES.get(name)
        if entity is None:
            continue
        ordered = sorted(record_ids)
        for part in chunks(ordered):
            _project_records(conn, entity, part)
        if name in ("case", "problem"):
            reindex[name].update(ordered)
        elif name == "followup":
            reindex["problem"].update(_followup_parents(conn, ordered))
    for kind, record_ids in reindex.items():
        _reindex(conn, kind, sorted(record_ids))


def _winning_values(
    conn: sqlite3.Connection, entity: Entity, record_ids: Sequence[str]
) -> dict[str, dict[str, ChangeRecord]]:
    winners: dict[str, dict[str, ChangeRecord]] = {rid: {} for rid in record_ids}
    rows = conn.execute(
        "SELECT c.change_id, c.record_id, c.field, c.value, c.hlc, c.device_id, c.unit "
        "FROM field_head h JOIN change c ON c.change_id = h.change_id "
        f"WHERE h.entity = ? AND h.record_id IN ({_marks(len(record_ids))})",
        (entity.name, *record_ids),
    )
    for change_id, record_id, name, value, hlc, device_id, unit in rows:
        change = ChangeRecord(change_id, entity.name, record_id, name, value, hlc, device_id,
                              unit)
        best = winners[record_id].get(name)
        if best is None or change.sort_key() > best.sort_key():
            winners[record_id][name] = change
    return winners


def _project_records(conn: sqlite3.Connection, entity: Entity, record_ids: Sequence[str]) -> None:
    columns = [entity.key] + [f.name for f in entity.fields if f.name != entity.key]
    columns.append("updated_hlc")
    insert = (
        f"INSERT OR REPLACE INTO {entity.table} ({', '.join(columns)}) "
        f"VALUES ({_marks(len(columns))})"
    )
    gone, rows = [], []
    for record_id, values in _winning_values(conn, entity, record_ids).items():
        if not values or DELETED_FIELD in values:
            gone.append((record_id,))
            continue
        row: list[Any] = [record_id]
        for spec in entity.fields:
            if spec.name == entity.key:
                continue
            change = values.get(spec.name)
            row.append(_column_value(spec.kind, change.decoded() if change else None))
        row.append(max(change.hlc for change in values.values()))
        rows.append(row)
    conn.executemany(f"DELETE FROM {entity.table} WHERE {entity.key} = ?", gone)
    conn.executemany(insert, rows)


def _followup_parents(conn: sqlite3.Connection, followup_ids: Sequence[str]) -> set[str]:
    # Read from the change log, not the projection: a deleted follow-up's row is gone.
    parents: set[str] = set()
    for part in chunks(followup_ids):
        rows = conn.execute(
            "SELECT c.value FROM field_head h JOIN change c ON c.change_id = h.change_id "
            "WHERE h.entity = 'followup' AND h.field = 'problem_id' "
            f"AND h.record_id IN ({_marks(len(part))})",
            tuple(part),
        )
        parents.update(json.loads(row[0]) for row in rows)
    return parents


_JOIN_TEXT = " || char(10) || ".join


def _text(*columns: str) -> str:
    return _JOIN_TEXT(f"coalesce({column}, '')" for column in columns)


_DOC_SQL = {
    "case": (
        "SELECT id, title, "
        + _text("problem_addressed", "measures", "results", "public_recognition")
        + " FROM innovation_case WHERE id IN ({marks})"
    ),
    "problem": (
        "SELECT p.id, p.title, " + _text("p.description", "p.resolution") + " || char(10) || "
        "coalesce((SELECT group_concat(f.text, char(10)) FROM followup f "
        "WHERE f.problem_id = p.id), '') FROM problem p WHERE p.id IN ({marks})"
    ),
}


def _reindex(conn: sqlite3.Connection, kind: str, record_ids: Sequence[str]) -> None:
    for part in chunks(record_ids):
        rows = conn.execute(_DOC_SQL[kind].format(marks=_marks(len(part))), tuple(part))
        docs = [search_index.SearchDoc(kind, rid, title or "", body or "") for rid, title, body
                in rows]
        found = {doc.record_id for doc in docs}
        search_index.remove_documents(conn, kind, [rid for rid in part if rid not in found])
        search_index.index_documents(conn, docs)


def heads_of(
    conn: sqlite3.Connection, entity: str, record_id: str, name: str
) -> list[ChangeRecord]:
    """Every head of one field, winner first."""
    rows = conn.execute(
        "SELECT c.change_id, c.value, c.hlc, c.device_id, c.unit, c.replaces "
        "FROM field_head h JOIN change c ON c.change_id = h.change_id "
        "WHERE h.entity = ? AND h.record_id = ? AND h.field = ?",
        (entity, record_id, name),
    ).fetchall()
    heads = [
        ChangeRecord(cid, entity, record_id, name, value, hlc, device, unit,
                     tuple(json.loads(replaces)))
        for cid, value, hlc, device, unit, replaces in rows
    ]
    return sorted(heads, key=ChangeRecord.sort_key, reverse=True)


def iter_changes(
    conn: sqlite3.Connection, after_seq: int = 0
) -> Iterator[tuple[int, ChangeRecord]]:
    """Every held change in local arrival order, with its local sequence number."""
    rows = conn.execute(
        "SELECT seq, change_id, entity, record_id, field, value, hlc, device_id, unit, replaces "
        "FROM change WHERE seq > ? ORDER BY seq",
        (after_seq,),
    )
    for seq, cid, entity, rid, name, value, hlc, device, unit, replaces in rows:
        yield seq, ChangeRecord(cid, entity, rid, name, value, hlc, device, unit,
                                tuple(json.loads(replaces)))


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute every derived table from the change records alone (inside a transaction)."""
    conn.execute("DELETE FROM change_replaces")
    conn.execute("DELETE FROM field_head")
    for entity in ENTITIES.values():
        conn.execute(f"DELETE FROM {entity.table}")
    search_index.clear(conn)
    affected: dict[str, set[str]] = defaultdict(set)
    batch: list[ChangeRecord] = []
    for _, change in iter_changes(conn):
        batch.append(change)
        affected[change.entity].add(change.record_id)
        if len(batch) >= 5000:
            _derive(conn, batch)
            batch = []
    _derive(conn, batch)
    _project(conn, affected)
