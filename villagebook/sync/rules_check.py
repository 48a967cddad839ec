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

from villagebook.domain.change_rules import RuleBroken, UnitPlace, judge
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

    def check(self, change_set: ChangeSet) -> None:
        """Refuse the bundle (BundleRejected) if the app could not have written the set.

        Call after `check_shape` and `check_writer`: the entity and fields are known.
        """
        history = self._load()
        if change_set.set_id in self._held:
            return
        entity = ENTITIES[change_set.entity]
        place = None
        if entity.name == "unit" and change_set.unit == self._key.unit:
            place = UnitPlace(self._key.parent, self._key.role)
        try:
            judge(entity, change_set, self._role,
                  history.get((change_set.entity, change_set.record_id), ()), place)
        except RuleBroken as broken:
            raise BundleRejected(broken.reason, broken.message, **broken.params) from None

    def _load(self) -> dict[tuple[str, str], list[ChangeSet]]:
        if self._history is None:
            self._history = held_history(self._conn, self._batch, self._held)
            for change_set in self._batch:  # what arrives together is judged together
                if change_set.set_id not in self._held and change_set.entity in ENTITIES:
                    self._history[(change_set.entity, change_set.record_id)].append(change_set)
        return self._history


def held_history(conn: sqlite3.Connection, batch: Sequence[ChangeSet],
                 held_ids: set[str]) -> defaultdict[tuple[str, str], list[ChangeSet]]:
    """The change sets held for the records of `batch`, by (entity, record id);
    adds the ids of the held sets to `held_ids`."""
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
                held_ids.add(set_id)
                history[(name, record_id)].append(ChangeSet(
                    set_id, name, record_id, hlc, device, unit, json.loads(fields),
                    json.loads(replaces)))
    return history
