"""The domain's change rules, applied to every change set a merge brings.

`domain.change_rules` says which change sets the app could have written; this
module gives it what it needs from this node: the change sets already held
for the records of a batch (read once per batch), the signer's role, and the
place the trust store gives the signer's unit. A set this node already holds
is not judged again: it was judged when it first came (or written here), and
the state around it may have moved on since.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence

from villagebook.domain.change_rules import RuleBroken, UnitPlace, judge, judge_completion
from villagebook.domain.enums import Role
from villagebook.domain.fields import ENTITIES
from villagebook.store.changelog import ChangeSet, chunks
from villagebook.sync.errors import BundleRejected
from villagebook.sync.trust import TrustedKey


class BatchRules:
    """Judge the change sets of one batch of a segment signed by `key`."""

    def __init__(self, conn: sqlite3.Connection, batch: Sequence[ChangeSet],
                 key: TrustedKey) -> None:
        self._conn = conn
        self._batch = batch
        self._role = Role(key.role)
        self._key = key
        self._history: dict[tuple[str, str], list[ChangeSet]] | None = None
        self._held: set[str] = set()
        self._extra: dict[str, ChangeSet] = {}
        self._held_fields: dict[str, set[str]] = {}

    def check(self, change_set: ChangeSet) -> None:
        """Refuse the bundle (BundleRejected) if the app could not have written the set.

        Call after `check_shape` and `check_writer`: the entity and fields are known.
        """
        history = self._load()
        if change_set.set_id in self._held and change_set.set_id not in self._extra:
            return
        entity = ENTITIES[change_set.entity]
        place = None
        if entity.name == "unit" and change_set.unit == self._key.unit:
            place = UnitPlace(self._key.parent, self._key.role)
        known = history.get((change_set.entity, change_set.record_id), [])
        try:
            if change_set.set_id in self._extra:
                whole = self._extra[change_set.set_id]
                judge_completion(entity, whole, sorted(change_set.fields.keys() -
                                                       self._held_fields[whole.set_id]),
                                 self._role, known, place)
            else:
                judge(entity, change_set, self._role, known, place)
        except RuleBroken as broken:
            raise BundleRejected(broken.reason, broken.message, **broken.params) from None

    def _load(self) -> dict[tuple[str, str], list[ChangeSet]]:
        if self._history is None:
            self._held_fields = held_fields(self._conn, [c.set_id for c in self._batch])
            self._held = set(self._held_fields)
            # A held set may come back with more fields (a set that arrived in parts):
            # it is judged whole, held part and new part together.
            grown = [c for c in self._batch if c.set_id in self._held
                     and c.fields.keys() - self._held_fields[c.set_id]]
            whole = held_sets(self._conn, [c.set_id for c in grown]) if grown else {}
            self._extra = {c.set_id: _whole(c, whole[c.set_id]) for c in grown}
            pending = [c for c in self._batch
                       if c.set_id not in self._held and c.entity in ENTITIES]
            # Only records that get something new need their history (a bundle that
            # repeats what is held reads nothing more).
            self._history = held_history(self._conn, [*pending, *self._extra.values()])
            for change_set in pending:  # what arrives together is judged together
                self._history[(change_set.entity, change_set.record_id)].append(change_set)
        return self._history


def _whole(incoming: ChangeSet, held: ChangeSet) -> ChangeSet:
    """A held set completed with the fields that `incoming` adds to it."""
    extra = incoming.fields.keys() - held.fields.keys()
    return ChangeSet(held.set_id, held.entity, held.record_id, held.hlc, held.device_id,
                     held.unit, {**held.fields, **{n: incoming.fields[n] for n in extra}},
                     {**held.replaces, **{n: r for n, r in incoming.replaces.items()
                                          if n in extra}})


def held_fields(conn: sqlite3.Connection, set_ids: Sequence[str]) -> dict[str, set[str]]:
    """Which of `set_ids` this node holds already, with the names of their fields
    (listed by SQLite itself: a bundle that repeats what is held parses no JSON)."""
    held: dict[str, set[str]] = {}
    for part in chunks(list(set_ids)):
        for set_id, names in conn.execute(
                "SELECT c.set_id, (SELECT group_concat(key, char(31)) FROM json_each(c.fields)) "
                f"FROM change_set c WHERE c.set_id IN ({','.join('?' * len(part))})",
                tuple(part)):
            held[set_id] = set(names.split("\x1f")) if names else set()
    return held


def held_sets(conn: sqlite3.Connection, set_ids: Sequence[str]) -> dict[str, ChangeSet]:
    """The sets among `set_ids` this node holds, whole."""
    held: dict[str, ChangeSet] = {}
    for part in chunks(list(set_ids)):
        for row in conn.execute(
                "SELECT set_id, entity, record_id, hlc, device_id, unit, fields, replaces "
                f"FROM change_set WHERE set_id IN ({','.join('?' * len(part))})",
                tuple(part)):
            set_id, entity, record_id, hlc, device, unit, fields, replaces = row
            held[set_id] = ChangeSet(set_id, entity, record_id, hlc, device, unit,
                                     json.loads(fields), json.loads(replaces))
    return held


def held_history(conn: sqlite3.Connection,
                 batch: Sequence[ChangeSet]) -> defaultdict[tuple[str, str], list[ChangeSet]]:
    """The change sets held for the records of `batch`, by (entity, record id)."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for change_set in batch:
        wanted[change_set.entity].add(change_set.record_id)
    history: defaultdict[tuple[str, str], list[ChangeSet]] = defaultdict(list)
    for entity, record_ids in wanted.items():
        for part in chunks(sorted(record_ids)):
            rows = conn.execute(
                "SELECT set_id, entity, record_id, hlc, device_id, unit, fields, replaces "
                f"FROM change_set WHERE entity = ? AND record_id IN ({','.join('?' * len(part))})",
                (entity, *part))
            for set_id, name, record_id, hlc, device, unit, fields, replaces in rows:
                history[(name, record_id)].append(ChangeSet(
                    set_id, name, record_id, hlc, device, unit, json.loads(fields),
                    json.loads(replaces)))
    return history
