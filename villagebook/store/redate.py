"""Re-dating a device's own changes after its laptop's clock has been set right.

A laptop whose clock ran years ahead stamped its changes in the future; receivers
hold such changes aside until their time comes. Once the clock is right again, each
record this device wrote in the future gets new change sets (its content, then its
status, as the app writes them): the same current values, a fresh timestamp from the
corrected clock, and per field `replaces` = the old future changes plus everything
they replaced. A receiver that held the old changes aside therefore sees exactly one
head per field (no false conflict), a receiver that applied them sees the new set
replace them, and every old change is kept. Only fields whose current value is this
device's future change are re-dated: a field someone else has since overwritten
needs nothing.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from villagebook.domain.clock import HybridClock, first_after
from villagebook.store.changelog import (
    ChangeRecord,
    ChangeSet,
    apply_sets,
    record_heads,
    set_id_for,
)


def redate_future(conn: sqlite3.Connection, device_id: str, wall_ms: int) -> tuple[int, int]:
    """Re-date `device_id`'s change sets stamped beyond the drift bound of `wall_ms`.

    Call inside a transaction. Returns how many records were re-dated and the
    clock's new last timestamp: the newest held timestamp that is not in the
    future (or the wall clock), advanced past every re-dated set, so the clock
    stays monotonic for everything that is not itself a future stamp.
    """
    limit = first_after(wall_ms)
    base = int(conn.execute("SELECT coalesce(max(hlc), 0) FROM change_set WHERE hlc < ?",
                            (limit,)).fetchone()[0])
    clock = HybridClock(base)
    records: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity, record_id, set_id in conn.execute(
            "SELECT entity, record_id, set_id FROM change_set WHERE device_id = ? AND hlc >= ? "
            "ORDER BY hlc", (device_id, limit)):
        records[(entity, record_id)].add(set_id)
    fresh: list[ChangeSet] = []
    for (entity, record_id), future_sets in records.items():
        held, heads = record_heads(conn, entity, record_id)
        future = {c.change_id: c for c in held if c.set_id in future_sets}
        fields, replaces = _current_values(heads, future)
        if not fields:
            continue
        unit = next(iter(future.values())).unit
        for part in _as_app_writes(fields):
            stamp = clock.tick(wall_ms)
            fresh.append(ChangeSet(set_id_for(stamp, device_id), entity, record_id, stamp,
                                   device_id, unit, part,
                                   {name: replaces[name] for name in part}))
    if fresh:
        apply_sets(conn, fresh)
    return len({(c.entity, c.record_id) for c in fresh}), clock.last


def _as_app_writes(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The re-dated values as the app writes them: a record's content first, then its
    status apart (receivers refuse a later write that moves a case and edits it at once,
    and a record created while the clock was ahead is no first write at a node that
    holds its creation aside)."""
    content = {name: value for name, value in fields.items() if name != "status"}
    status = {name: value for name, value in fields.items() if name == "status"}
    return [part for part in (content, status) if part]


def newest_foreign(conn: sqlite3.Connection, device_id: str, wall_ms: int) -> int:
    """The newest timestamp held from other devices that is not beyond the drift bound."""
    return int(conn.execute(
        "SELECT coalesce(max(hlc), 0) FROM change_set WHERE device_id != ? AND hlc < ?",
        (device_id, first_after(wall_ms))).fetchone()[0])


def _current_values(heads: dict[str, list[ChangeRecord]], future: dict[str, ChangeRecord]
                    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Per field whose head is one of the future changes: its value, and what the new
    change replaces (those changes, and transitively what they replaced)."""
    fields: dict[str, Any] = {}
    replaces: dict[str, list[str]] = {}
    for name, candidates in heads.items():
        mine = [c for c in candidates if c.change_id in future]
        if not mine:
            continue
        fields[name] = mine[0].decoded()
        replaces[name] = sorted(_closure((c.change_id for c in mine), future))
    return fields, replaces


def _closure(start: Iterable[str], future: dict[str, ChangeRecord]) -> set[str]:
    """The given change ids and, through future changes, every change they replaced."""
    found: set[str] = set()
    stack = list(start)
    while stack:
        change_id = stack.pop()
        if change_id in found:
            continue
        found.add(change_id)
        if change_id in future:
            stack.extend(future[change_id].replaces)
    return found
