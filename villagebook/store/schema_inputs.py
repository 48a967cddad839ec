"""Schema steps of the ways in: imports (see `villagebook.store.migrations`).

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

import sqlite3

from villagebook.store.migrations_base import Step, run_script

# Local only (never in a bundle): the digest of every row this node imported, so that
# running the same import twice is refused instead of doubling the ledger.
_IMPORT_ROWS = """
CREATE TABLE IF NOT EXISTS import_row (
    entity TEXT NOT NULL,
    digest TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (entity, digest)
) WITHOUT ROWID
"""


def _import_rows(conn: sqlite3.Connection) -> None:
    run_script(conn, _IMPORT_ROWS)


STEPS: tuple[Step, ...] = (
    ("inputs-1-import-rows", _import_rows),
)
