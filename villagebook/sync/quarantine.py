"""Change sets dated too far ahead of this laptop's clock: held aside, not refused.

A laptop whose clock runs ahead stamps its changes in the future. Applying them
would drag every clock that sees them into the future too; refusing the bundle
(as this node once did) blocked the whole channel, relayed segments of honest
units included, and for ever. Instead the merge holds such change sets aside in
`sync_held`, whole, and merges the rest of the segment. A held set is applied at
a later merge once its time lies within the drift bound (a township two days
fast heals itself), and the sender's re-dated copies (`villagebook.store.redate`)
replace it as soon as they arrive. Nothing held aside is applied, so it moves
neither this node's clock nor its state: the state stays a function of the set
of applied change records.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from villagebook.domain.clock import first_after
from villagebook.i18n import _
from villagebook.services.errors import Refused
from villagebook.store.changelog import ChangeSet, IndexQueue, apply_sets, chunks, encode
from villagebook.store.node import Store, system_now
from villagebook.sync.authorise import check_claims


@dataclass(frozen=True)
class HeldGroup:
    """Change sets from one origin unit held aside: how many, and the newest stamp."""

    origin: str
    sets: int
    newest_hlc: int


def split_future(conn: sqlite3.Connection, batch: Sequence[ChangeSet],
                 limit: int) -> tuple[list[ChangeSet], list[ChangeSet]]:
    """The sets of `batch` to apply now, and those stamped at or after `limit`
    (`first_after` this laptop's clock: beyond the drift bound).

    A future set this node already holds (applied when its clock read later) is
    applied again, harmlessly, rather than held aside a second time.
    """
    future = [s for s in batch if s.hlc >= limit]
    if not future:
        return list(batch), []
    applied = _applied(conn, [s.set_id for s in future])
    held = [s for s in future if s.set_id not in applied]
    ids = {s.set_id for s in held}
    return [s for s in batch if s.set_id not in ids], held


def _applied(conn: sqlite3.Connection, set_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(set_ids):
        found.update(row[0] for row in conn.execute(
            f"SELECT set_id FROM change_set WHERE set_id IN ({','.join('?' * len(part))})",
            part))
    return found


def hold(conn: sqlite3.Connection, segment: str, origin: str, sets: Sequence[ChangeSet]) -> None:
    """Keep `sets` aside (a set already held aside is kept once)."""
    now = system_now().isoformat(timespec="seconds")
    conn.executemany(
        "INSERT OR IGNORE INTO sync_held (set_id, segment_id, origin_unit, entity, record_id, "
        "hlc, device_id, unit, fields, replaces, held_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        ((s.set_id, segment, origin, s.entity, s.record_id, s.hlc, s.device_id, s.unit,
          encode(s.fields), encode(s.replaces), now) for s in sets))


def groups(conn: sqlite3.Connection) -> list[HeldGroup]:
    """What is held aside, per origin unit."""
    return [HeldGroup(origin, count, newest) for origin, count, newest in conn.execute(
        "SELECT origin_unit, count(*), max(hlc) FROM sync_held GROUP BY origin_unit "
        "ORDER BY origin_unit")]


def release_due(store: Store, index: IndexQueue | None = None) -> int:
    """Apply the held sets whose time now lies within the drift bound; how many.

    Call inside the merge's transaction. A set whose owner claim no longer fits
    the records held (another claim arrived first) stays held aside.
    """
    conn = store.conn
    rows = conn.execute(
        "SELECT set_id, entity, record_id, hlc, device_id, unit, fields, replaces "
        "FROM sync_held WHERE hlc < ? ORDER BY hlc", (first_after(store.wall_ms()),)).fetchall()
    due = [ChangeSet(set_id, entity, record_id, hlc, device, unit, json.loads(fields),
                     json.loads(replaces))
           for set_id, entity, record_id, hlc, device, unit, fields, replaces in rows]
    if not due:
        return 0
    fitting = _fitting_claims(conn, due)
    if fitting:
        apply_sets(conn, fitting, index)
        store.observe(max(s.hlc for s in fitting))
        conn.executemany("DELETE FROM sync_held WHERE set_id = ?",
                         ((s.set_id,) for s in fitting))
    return len(fitting)


def _fitting_claims(conn: sqlite3.Connection, due: list[ChangeSet]) -> list[ChangeSet]:
    try:
        check_claims(conn, due)
        return due
    except Refused:
        pass
    fitting: list[ChangeSet] = []
    for change_set in due:  # rare: find the ones that still fit, one by one
        try:
            check_claims(conn, [*fitting, change_set])
        except Refused:
            continue
        fitting.append(change_set)
    return fitting


def held_sentence(count: int, origin: str, until: str) -> str:
    """One origin's changes held aside, as a sentence (`origin` already safe to show)."""
    return _("{count} changes from {origin} are dated up to {until}, ahead of this laptop's "
             "clock; they are held aside and merged once their time comes").format(
        count=count, origin=origin, until=until)
