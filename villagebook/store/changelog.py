"""The change log: every write is a set of field-level change records, and every
table of records is a projection of them.

A change record says: this field of this record now holds this value; written
by this device at this hybrid-logical-clock time; replacing these earlier
changes of the same field (the ones its writer saw as current). A delete is a
tombstone change of the pseudo-field `_deleted`.

Storage groups the field changes of one write of one record into a *change set*
(one row: its fields and values, and per field the changes it replaces). A
field change's id is `<set id>-<field>`, the set id `<hlc as 16 hex>-<device>`,
so every field change stays individually addressable while a record created
with fifteen fields costs one row instead of fifteen.

Applying changes is insert-or-ignore, then recomputing each affected record
from *all* the change sets held for it. The state is therefore a function of
the set of changes alone: the same changes applied twice, or in any order, give
the same tables. That is the whole basis of sync.

Current values: a field change that no held change of the same record replaces
is a *head* of its field. One head is the value; two or more are a true
conflict (concurrent writers who had not seen each other), kept in `conflict`
and shown with a deterministic winner (latest timestamp, then device id, then
change id) until a person picks. A tombstone is never replaced, so a deleted
record never comes back.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from villagebook.domain.fields import DELETED_FIELD, ENTITIES, Entity, Kind
from villagebook.store import search_index

_BATCH = 400
_SET_ID = re.compile(r"[0-9a-f]{16}-[0-9a-z]{1,64}\Z")


class MalformedChange(ValueError):
    """A change record that cannot be stored as it claims to be (bad id, or a
    change set whose parts disagree about their record)."""


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

    @property
    def set_id(self) -> str:
        """The id of the change set (one write of one record) this change belongs to."""
        return set_id_for(self.hlc, self.device_id)


@dataclass
class ApplyOutcome:
    """What applying a batch of changes did."""

    new: int = 0
    duplicate: int = 0
    affected: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode(value: Any) -> str:
    """Canonical JSON: the same value is always the same text (and the same hash)."""
    return _ENCODER.encode(value)


def new_record_id(wall_ms: int) -> str:
    """A UUID version 7: globally unique, and time-ordered so inserts stay cheap."""
    raw = bytearray((wall_ms & ((1 << 48) - 1)).to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return str(uuid.UUID(bytes=bytes(raw)))


def set_id_for(hlc: int, device_id: str) -> str:
    """The id of the change set a device wrote at `hlc` (one per record write)."""
    return f"{hlc:016x}-{device_id}"


def change_id_for(hlc: int, device_id: str, name: str) -> str:
    """The id of one field change: its set's id and the field's name."""
    return f"{set_id_for(hlc, device_id)}-{name}"


def chunks(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items (SQLite caps bound parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


# --- reading change sets -----------------------------------------------------------------

_SET_COLUMNS = "seq, set_id, entity, record_id, hlc, device_id, unit, fields, replaces"


def _records_of_row(row: Sequence[Any]) -> list[ChangeRecord]:
    _seq, set_id, entity, record_id, hlc, device_id, unit, fields, replaces = row
    values: dict[str, Any] = json.loads(fields)
    replaced: dict[str, list[str]] = json.loads(replaces)
    return [
        ChangeRecord(f"{set_id}-{name}", entity, record_id, name, encode(value), hlc,
                     device_id, unit, tuple(replaced.get(name, ())))
        for name, value in sorted(values.items())
    ]


def _changes_of(
    conn: sqlite3.Connection, entity: str, record_ids: Sequence[str]
) -> dict[str, list[ChangeRecord]]:
    held: dict[str, list[ChangeRecord]] = {rid: [] for rid in record_ids}
    for part in chunks(record_ids):
        rows = conn.execute(
            f"SELECT {_SET_COLUMNS} FROM change_set "
            f"WHERE entity = ? AND record_id IN ({_marks(len(part))})",
            (entity, *part),
        )
        for row in rows:
            held[row[3]].extend(_records_of_row(row))
    return held


def _heads(changes: Iterable[ChangeRecord]) -> dict[str, list[ChangeRecord]]:
    """Per field, the changes no other held change replaces, winner first."""
    changes = list(changes)
    replaced = {old for change in changes for old in change.replaces}
    heads: dict[str, list[ChangeRecord]] = defaultdict(list)
    for change in changes:
        if change.change_id not in replaced:
            heads[change.field].append(change)
    for candidates in heads.values():
        candidates.sort(key=ChangeRecord.sort_key, reverse=True)
    return heads


def record_heads(
    conn: sqlite3.Connection, entity: str, record_id: str
) -> tuple[list[ChangeRecord], dict[str, list[ChangeRecord]]]:
    """Every held change of one record, and per field its heads (winner first)."""
    held = _changes_of(conn, entity, [record_id])[record_id]
    return held, _heads(held)


def heads_of(
    conn: sqlite3.Connection, entity: str, record_id: str, name: str
) -> list[ChangeRecord]:
    """Every head of one field, winner first (several when in conflict)."""
    return _heads(_changes_of(conn, entity, [record_id])[record_id]).get(name, [])


def iter_changes(
    conn: sqlite3.Connection, after_seq: int = 0
) -> Iterator[tuple[int, ChangeRecord]]:
    """Every held field change in local arrival order, with its set's local sequence number."""
    rows = conn.execute(
        f"SELECT {_SET_COLUMNS} FROM change_set WHERE seq > ? ORDER BY seq", (after_seq,)
    )
    for row in rows:
        for change in _records_of_row(row):
            yield row[0], change


@dataclass(frozen=True)
class Conflict:
    """A field with two or more heads, winner first."""

    entity: str
    record_id: str
    field: str
    heads: tuple[ChangeRecord, ...]


def conflicts(conn: sqlite3.Connection) -> list[Conflict]:
    """Every field in true conflict, waiting for a person."""
    rows = conn.execute(
        "SELECT entity, record_id, field FROM conflict ORDER BY entity, record_id, field"
    ).fetchall()
    return [Conflict(e, r, f, tuple(heads_of(conn, e, r, f))) for e, r, f in rows]


# --- writing -----------------------------------------------------------------------------

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
    heads = {} if fresh else _heads(_changes_of(conn, entity, [record_id])[record_id])
    return [
        ChangeRecord(
            change_id=change_id_for(hlc, device_id, name),
            entity=entity,
            record_id=record_id,
            field=name,
            value=encode(value),
            hlc=hlc,
            device_id=device_id,
            unit=unit,
            replaces=tuple(sorted(head.change_id for head in heads.get(name, ()))),
        )
        for name, value in sorted(values.items())
    ]


@dataclass
class ChangeSet:
    """One write of one record: its field values and, per field, what it replaces."""

    set_id: str
    entity: str
    record_id: str
    hlc: int
    device_id: str
    unit: str
    fields: dict[str, Any]
    replaces: dict[str, list[str]]

    def row(self) -> tuple[Any, ...]:
        return (self.set_id, self.entity, self.record_id, self.hlc, self.device_id, self.unit,
                encode(self.fields), encode(self.replaces))


def _group(changes: Iterable[ChangeRecord]) -> dict[str, ChangeSet]:
    """Field changes grouped into their change sets; refuses inconsistent ones."""
    sets: dict[str, ChangeSet] = {}
    for change in changes:
        set_id = change.set_id
        if change.change_id != f"{set_id}-{change.field}" or not _SET_ID.match(set_id):
            raise MalformedChange(f"change id {change.change_id!r} does not match its content")
        found = sets.get(set_id)
        if found is None:
            found = sets[set_id] = ChangeSet(set_id, change.entity, change.record_id, change.hlc,
                                        change.device_id, change.unit, {}, {})
        elif (found.entity, found.record_id, found.unit) != (
            change.entity, change.record_id, change.unit
        ):
            raise MalformedChange(f"change set {set_id} mixes records")
        found.fields[change.field] = change.decoded()
        if change.replaces:
            found.replaces[change.field] = sorted(change.replaces)
    return sets


def _insert_sets(conn: sqlite3.Connection, sets: Iterable[ChangeSet]) -> None:
    conn.executemany(
        "INSERT INTO change_set (set_id, entity, record_id, hlc, device_id, unit, fields, "
        "replaces) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (change_set.row() for change_set in sets),
    )


def apply(conn: sqlite3.Connection, changes: Iterable[ChangeRecord]) -> ApplyOutcome:
    """Insert the changes not yet held and recompute every record they touch.

    Call inside a transaction. Idempotent and order-independent. Raises
    MalformedChange (before writing anything) for changes that contradict their ids.
    """
    return _apply_grouped(conn, _group(changes))


def apply_sets(conn: sqlite3.Connection, change_sets: Iterable[ChangeSet],
               index: IndexQueue | None = None) -> ApplyOutcome:
    """`apply` for changes that arrive already grouped in change sets (sync bundles).

    Same result as `apply` of the sets' field changes, without expanding each
    value to canonical JSON and back. Raises MalformedChange for a set whose id
    does not match its timestamp and device, or a set given twice. With an
    `index` queue, the search documents of the records touched are re-indexed
    when the queue is flushed rather than now.
    """
    grouped: dict[str, ChangeSet] = {}
    for change_set in change_sets:
        set_id = change_set.set_id
        if set_id != set_id_for(change_set.hlc, change_set.device_id) or not _SET_ID.match(
            set_id
        ):
            raise MalformedChange(f"change set id {set_id!r} does not match its content")
        if set_id in grouped:
            raise MalformedChange(f"change set {set_id} given twice")
        grouped[set_id] = change_set
    return _apply_grouped(conn, grouped, index)


def _apply_grouped(conn: sqlite3.Connection, sets: dict[str, ChangeSet],
                   index: IndexQueue | None = None) -> ApplyOutcome:
    outcome = ApplyOutcome()
    fresh: list[ChangeSet] = []
    ids = list(sets)
    for part in chunks(ids):
        rows = conn.execute(
            f"SELECT set_id, entity, record_id, unit, fields FROM change_set "
            f"WHERE set_id IN ({_marks(len(part))})",
            part,
        )
        for set_id, entity, record_id, unit, fields in rows:
            incoming = sets.pop(set_id)
            if (incoming.entity, incoming.record_id, incoming.unit) != (entity, record_id, unit):
                raise MalformedChange(f"change set {set_id} differs from the one held")
            held_fields = json.loads(fields)
            outcome.duplicate += len(incoming.fields.keys() & held_fields.keys())
            extra = incoming.fields.keys() - held_fields.keys()
            if extra:  # a set that arrived in parts: complete it
                _complete_set(conn, incoming, held_fields, extra)
                outcome.new += len(extra)
                outcome.affected[entity].add(record_id)
    fresh = list(sets.values())
    unseen = _unseen_records(conn, fresh)
    _insert_sets(conn, fresh)
    for change_set in fresh:
        outcome.new += len(change_set.fields)
        outcome.affected[change_set.entity].add(change_set.record_id)
    _project(conn, outcome.affected, unseen, index)
    return outcome


def _unseen_records(
    conn: sqlite3.Connection, fresh: Sequence[ChangeSet]
) -> dict[str, dict[str, list[ChangeSet]]]:
    """Per entity, the records of which no change set is held yet, with their new sets.

    Their state is a function of these sets alone, so they can be projected
    without reading anything back (the common case when a bundle brings new records).
    """
    grouped: dict[str, dict[str, list[ChangeSet]]] = defaultdict(lambda: defaultdict(list))
    for change_set in fresh:
        grouped[change_set.entity][change_set.record_id].append(change_set)
    for entity, records in grouped.items():
        for part in chunks(list(records)):
            rows = conn.execute(
                f"SELECT DISTINCT record_id FROM change_set WHERE entity = ? "
                f"AND record_id IN ({_marks(len(part))})", (entity, *part))
            for (record_id,) in rows:
                del records[record_id]
    return grouped


def _complete_set(conn: sqlite3.Connection, incoming: ChangeSet, held_fields: dict[str, Any],
                  extra: set[str]) -> None:
    row = conn.execute("SELECT replaces FROM change_set WHERE set_id = ?",
                       (incoming.set_id,)).fetchone()
    replaces: dict[str, list[str]] = json.loads(row[0])
    for name in extra:
        held_fields[name] = incoming.fields[name]
        if name in incoming.replaces:
            replaces[name] = incoming.replaces[name]
    conn.execute("UPDATE change_set SET fields = ?, replaces = ? WHERE set_id = ?",
                 (encode(held_fields), encode(replaces), incoming.set_id))


@dataclass(frozen=True)
class MintedRecord:
    """A record this node has just created: its first and only change set."""

    record_id: str
    unit: str
    hlc: int
    values: Mapping[str, Any]


def apply_minted(
    conn: sqlite3.Connection, entity: Entity, device_id: str, records: Sequence[MintedRecord],
    index: IndexQueue | None = None,
) -> None:
    """The bulk path for records this node has just created (import, demo).

    Same result as `apply` of their change records, faster: each record's one
    change set is its only one, so every field has a single head and the
    projection is written straight from the values, with no JSON round trip.
    """
    _insert_sets(conn, (
        ChangeSet(set_id_for(r.hlc, device_id), entity.name, r.record_id, r.hlc, device_id, r.unit,
             dict(r.values), {})
        for r in records
    ))
    _write_rows(conn, entity, [(r.record_id, r.hlc, r.values) for r in records], ())
    _reindex_affected(conn, {entity.name: {r.record_id for r in records}}, index)


# --- projection --------------------------------------------------------------------------

def _column_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind in (Kind.CHOICES, Kind.REFS):
        return encode(value)
    if kind is Kind.BOOL:
        return 1 if value else 0
    return value


def _row_maker(entity: Entity) -> tuple[list[str], Any]:
    """The projection's columns, and a function from (id, hlc, values) to a row of them.

    Most columns store the value as it is; only lists (JSON text) and booleans
    (0/1) are converted, so the hot loop looks up plain values directly.
    """
    fields = [spec for spec in entity.fields if spec.name != entity.key]
    names = [spec.name for spec in fields]
    converted = [(position, spec.kind) for position, spec in enumerate(fields)
                 if spec.kind in (Kind.CHOICES, Kind.REFS, Kind.BOOL)]

    def row(record_id: str, updated: int, values: Mapping[str, Any]) -> tuple[Any, ...]:
        cells = [values.get(name) for name in names]
        for position, kind in converted:
            cells[position] = _column_value(kind, cells[position])
        return (record_id, *cells, updated)

    return [entity.key, *names, "updated_hlc"], row


_ROW_MAKERS = {name: _row_maker(entity) for name, entity in ENTITIES.items()}


def _project(
    conn: sqlite3.Connection, affected: Mapping[str, set[str]],
    unseen: Mapping[str, Mapping[str, list[ChangeSet]]] | None = None,
    index: IndexQueue | None = None,
) -> None:
    for name, record_ids in affected.items():
        entity = ENTITIES.get(name)
        if entity is None:
            continue
        known = (unseen or {}).get(name, {})
        if known:
            _project_from_sets(conn, entity, known)
        for part in chunks(sorted(record_ids - known.keys())):
            held = _changes_of(conn, name, part)
            heads = {rid: _heads(changes) for rid, changes in held.items()}
            _write_projection(conn, entity, heads)
            _note_conflicts(conn, name, heads)
    _reindex_affected(conn, affected, index)


def _project_from_sets(conn: sqlite3.Connection, entity: Entity,
                       records: Mapping[str, list[ChangeSet]]) -> None:
    """Project records whose every change set is in hand: same rules as `_heads`."""
    live: list[tuple[str, int, Mapping[str, Any]]] = []
    gone: list[str] = []
    in_conflict: list[tuple[str, str, str]] = []
    for record_id, sets in records.items():
        if len(sets) == 1 and not sets[0].replaces:  # one write: every field its own head
            only = sets[0]
            if DELETED_FIELD in only.fields:
                gone.append(record_id)
            else:
                live.append((record_id, only.hlc, only.fields))
            continue
        heads = _heads(change for s in sets for change in _set_changes(s))
        if not heads or DELETED_FIELD in heads:
            gone.append(record_id)
            continue
        live.append((record_id, max(c[0].hlc for c in heads.values()),
                     {name: c[0].decoded() for name, c in heads.items()}))
        in_conflict += [(entity.name, record_id, name) for name, c in heads.items()
                        if len({change.value for change in c}) > 1]
    _write_rows(conn, entity, live, gone)
    conn.executemany("INSERT INTO conflict (entity, record_id, field) VALUES (?, ?, ?)",
                     in_conflict)


def _set_changes(change_set: ChangeSet) -> list[ChangeRecord]:
    return [
        ChangeRecord(f"{change_set.set_id}-{name}", change_set.entity, change_set.record_id,
                     name, encode(value), change_set.hlc, change_set.device_id,
                     change_set.unit, tuple(change_set.replaces.get(name, ())))
        for name, value in change_set.fields.items()
    ]


def _note_conflicts(conn: sqlite3.Connection, entity: str,
                    heads: Mapping[str, Mapping[str, list[ChangeRecord]]]) -> None:
    conn.executemany("DELETE FROM conflict WHERE entity = ? AND record_id = ?",
                     ((entity, rid) for rid in heads))
    conn.executemany(
        "INSERT INTO conflict (entity, record_id, field) VALUES (?, ?, ?)",
        # A deleted record has nothing left to settle, however many wrote to it; nor has
        # a field whose concurrent writers agree (two laptops set up the same unit).
        ((entity, rid, name) for rid, fields in heads.items() if DELETED_FIELD not in fields
         for name, candidates in fields.items() if len({c.value for c in candidates}) > 1),
    )


def _write_projection(
    conn: sqlite3.Connection, entity: Entity,
    heads: Mapping[str, Mapping[str, list[ChangeRecord]]],
) -> None:
    """Write (or remove, for deleted or unknown records) the projection rows."""
    live, gone = [], []
    for record_id, fields in heads.items():
        if not fields or DELETED_FIELD in fields:
            gone.append(record_id)
            continue
        values = {name: candidates[0].decoded() for name, candidates in fields.items()}
        updated = max(candidates[0].hlc for candidates in fields.values())
        live.append((record_id, updated, values))
    _write_rows(conn, entity, live, gone)


def _write_rows(
    conn: sqlite3.Connection, entity: Entity,
    live: Sequence[tuple[str, int, Mapping[str, Any]]], gone: Sequence[str],
) -> None:
    columns, row = _ROW_MAKERS[entity.name]
    conn.executemany(f"DELETE FROM {entity.table} WHERE {entity.key} = ?",
                     ((record_id,) for record_id in gone))
    conn.executemany(
        f"INSERT OR REPLACE INTO {entity.table} ({', '.join(columns)}) "
        f"VALUES ({_marks(len(columns))})",
        (row(record_id, updated, values) for record_id, updated, values in live),
    )
    if entity.name in _OWN_TEXT:
        _index_rows(conn, entity.name, live, gone)


# --- search index ------------------------------------------------------------------------

def _text(*columns: str) -> str:
    return " || char(10) || ".join(f"coalesce({column}, '')" for column in columns)


#: Kinds whose search document is their own row's text: indexed straight from the
#: values written to the projection, with no read back.
_OWN_TEXT = {"case": ("title", ("problem_addressed", "measures", "results",
                                "public_recognition"))}

#: Kinds whose document also holds other records' text (a problem's follow-ups):
#: read back from the projection tables once they are written.
_DOC_SQL = {
    "problem": (
        "SELECT p.id, p.title, " + _text("p.description", "p.resolution") + " || char(10) || "
        "coalesce((SELECT group_concat(f.text, char(10)) FROM followup f "
        "WHERE f.problem_id = p.id), '') FROM problem p WHERE p.id IN ({marks})"
    ),
}


def _index_rows(conn: sqlite3.Connection, kind: str,
                live: Sequence[tuple[str, int, Mapping[str, Any]]], gone: Sequence[str]) -> None:
    title, body = _OWN_TEXT[kind]
    search_index.remove_documents(conn, kind, gone)
    search_index.index_documents(conn, (
        search_index.SearchDoc(kind, record_id, values.get(title) or "",
                               "\n".join(values.get(name) or "" for name in body))
        for record_id, _, values in live))


class IndexQueue:
    """Problems whose search documents are due, re-indexed once when flushed.

    A problem's document holds its follow-ups' text, so a bulk write in batches
    (a merge, an import) would otherwise re-index a problem once per batch that
    brings one of its follow-ups. Cases need no queue: their document is their
    own row, indexed as it is written. The queue is a temporary table, so it
    costs no memory however many records it holds. Use it inside one
    transaction and flush it before that transaction commits.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS index_queue "
                     "(entity TEXT NOT NULL, record_id TEXT NOT NULL, "
                     "PRIMARY KEY (entity, record_id)) WITHOUT ROWID")
        conn.execute("DELETE FROM temp.index_queue")

    def add(self, affected: Mapping[str, Iterable[str]]) -> None:
        """Queue the records of `affected` (entity name: record ids)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.index_queue (entity, record_id) VALUES (?, ?)",
            ((name, rid) for name, record_ids in affected.items()
             if name in _DOC_SQL or name == "followup" for rid in record_ids))

    def flush(self) -> None:
        """Re-index every queued record, a bounded chunk at a time, and empty the queue."""
        for followups in self._chunks("followup"):  # a follow-up's text is its problem's
            self.add({"problem": _followup_parents(self.conn, followups)})
        for kind in _DOC_SQL:
            for record_ids in self._chunks(kind):
                _reindex(self.conn, kind, record_ids)
        self.conn.execute("DELETE FROM temp.index_queue")

    def _chunks(self, entity: str) -> Iterator[list[str]]:
        after = ""
        while part := [rid for (rid,) in self.conn.execute(
                "SELECT record_id FROM temp.index_queue WHERE entity = ? AND record_id > ? "
                "ORDER BY record_id LIMIT ?", (entity, after, _BATCH * 5))]:
            yield part
            after = part[-1]


def _reindex_affected(conn: sqlite3.Connection, affected: Mapping[str, set[str]],
                      index: IndexQueue | None = None) -> None:
    if index is not None:
        index.add(affected)
        return
    reindex: dict[str, set[str]] = defaultdict(set)
    for name, record_ids in affected.items():
        if name in _DOC_SQL:
            reindex[name].update(record_ids)
        elif name == "followup":
            reindex["problem"].update(_followup_parents(conn, sorted(record_ids)))
    for kind, record_ids in reindex.items():
        _reindex(conn, kind, sorted(record_ids))


def _followup_parents(conn: sqlite3.Connection, followup_ids: Sequence[str]) -> set[str]:
    # Read from the change log, not the projection: a deleted follow-up's row is gone.
    parents: set[str] = set()
    for changes in _changes_of(conn, "followup", followup_ids).values():
        parents.update(c.decoded() for c in changes if c.field == "problem_id")
    return parents


def _reindex(conn: sqlite3.Connection, kind: str, record_ids: Sequence[str]) -> None:
    for part in chunks(record_ids):
        rows = conn.execute(_DOC_SQL[kind].format(marks=_marks(len(part))), tuple(part))
        docs = [search_index.SearchDoc(kind, rid, title or "", body or "")
                for rid, title, body in rows]
        found = {doc.record_id for doc in docs}
        search_index.remove_documents(conn, kind, [rid for rid in part if rid not in found])
        search_index.index_documents(conn, docs)


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute every derived table from the change sets alone (inside a transaction).

    Every record with a change set is re-projected and re-indexed (deleted ones
    are removed from the index), so the search index needs no separate reset.
    """
    conn.execute("DELETE FROM conflict")
    for entity in ENTITIES.values():
        conn.execute(f"DELETE FROM {entity.table}")
    for name in ENTITIES:
        record_ids = [row[0] for row in conn.execute(
            "SELECT DISTINCT record_id FROM change_set WHERE entity = ?", (name,))]
        _project(conn, {name: set(record_ids)})
