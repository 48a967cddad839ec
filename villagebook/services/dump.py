"""`dump`: every live record, canonical and sorted, without local bookkeeping.

Two nodes holding the same records print the same bytes, which is how tests
(and suspicious township staff) check that sync converged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from villagebook.domain.fields import ENTITIES
from villagebook.services.records import row_to_record
from villagebook.store.node import Store

#: The `dump --json` keys and the entity each lists: CLI.md's six, then the
#: district's rubrics and model cases, then evidence files (additions; the six keep their shape).
SECTIONS = (
    ("units", "unit"),
    ("cases", "case"),
    ("problems", "problem"),
    ("followups", "followup"),
    ("reviews", "review"),
    ("scores", "score"),
    ("rubrics", "rubric"),
    ("model_cases", "model_case"),
    ("attachments", "attachment"),
)


def iter_records(store: Store, entity_name: str) -> Iterator[dict[str, Any]]:
    """Every live record of one entity, sorted by id."""
    entity = ENTITIES[entity_name]
    cursor = store.conn.execute(f"SELECT * FROM {entity.table} ORDER BY {entity.key}")
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield row_to_record(entity, dict(zip(names, row, strict=True)))


def dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every live record, grouped as `dump --json` prints them."""
    return {key: list(iter_records(store, name)) for key, name in SECTIONS}


def dump_json(store: Store) -> str:
    """The canonical JSON text of `dump` (sorted keys, UTF-8, one trailing newline)."""
    return json.dumps(dump(store), ensure_ascii=False, sort_keys=True, indent=1) + "\n"
