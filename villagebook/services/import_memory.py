"""What this node imported before, so the same rows are not imported twice.

Each imported row leaves the digest of its normalised values (what validation made of
its cells: dates as dates, choices as their codes, text trimmed) in the local
`import_row` table. The rule: a file of which any row was imported before is refused
whole, saying how many, unless the user asks to import it again (`--again`, or the
app's confirmation). All or none, as with invalid rows: a half-imported file would
leave the user guessing which rows are new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from villagebook.store.node import Store

#: Fields every imported row gets whatever the file says (defaults, not the row's data).
_NOT_THE_ROW = frozenset({"status"})


def row_digest(entity: str, parsed: Mapping[str, Any]) -> str:
    """The digest of one validated row (its values, not its position in the file)."""
    values = {name: value for name, value in parsed.items()
              if name not in _NOT_THE_ROW and value not in (None, "", [])}
    text = json.dumps([entity, values], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def count_imported(store: Store, entity: str, digests: Sequence[str]) -> int:
    """How many of the file's rows (their `digests`) this node imported before."""
    unique = sorted(set(digests))
    found: set[str] = set()
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(digest for (digest,) in store.conn.execute(
            f"SELECT digest FROM import_row WHERE entity = ? AND digest IN ({marks})",
            (entity, *chunk)))
    return sum(1 for digest in digests if digest in found)


def remember(store: Store, entity: str, rows: Iterable[tuple[str, str]]) -> None:
    """Keep the (record id, digest) of imported rows; call inside the import's transaction."""
    store.conn.executemany(
        "INSERT OR REPLACE INTO import_row (entity, digest, record_id) VALUES (?, ?, ?)",
        ((entity, digest, record_id) for record_id, digest in rows))
