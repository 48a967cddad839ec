"""Forward-only schema migrations: named steps, each applied once.

Each step is frozen once released: never edit a step, append a new one (to the
list of its area: core here, sync in `schema_sync.py`, evaluation in
`schema_evaluation.py`). Applied step names are kept in the `schema_step`
table, their count in `PRAGMA user_version`. The test suite checks that the
schema the steps build matches the SQLModel tables in
`villagebook.store.models`, and that every step upgrades a database made by
the steps before it without losing rows.
"""

from __future__ import annotations

import sqlite3

from villagebook.store.migrations_base import Step, run_script

_V1_CORE = """
CREATE TABLE node (
    id INTEGER NOT NULL PRIMARY KEY,
    device_id VARCHAR NOT NULL,
    unit_code VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    hlc INTEGER NOT NULL,
    created_at VARCHAR NOT NULL
);
CREATE TABLE setting (
    "key" VARCHAR NOT NULL PRIMARY KEY,
    value VARCHAR NOT NULL
);
CREATE TABLE change_set (
    seq INTEGER NOT NULL PRIMARY KEY,
    set_id VARCHAR NOT NULL UNIQUE,
    entity VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    hlc INTEGER NOT NULL,
    device_id VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    fields VARCHAR NOT NULL,
    replaces VARCHAR NOT NULL
);
CREATE INDEX ix_change_set_record ON change_set (entity, record_id);
CREATE TABLE conflict (
    entity VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    PRIMARY KEY (entity, record_id, field)
) WITHOUT ROWID;
CREATE TABLE unit (
    code VARCHAR NOT NULL PRIMARY KEY,
    name VARCHAR,
    kind VARCHAR,
    parent_code VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_unit_parent_code ON unit (parent_code);
CREATE TABLE innovation_case (
    id VARCHAR NOT NULL PRIMARY KEY,
    unit_code VARCHAR,
    title VARCHAR,
    lead_person VARCHAR,
    contact VARCHAR,
    start_date VARCHAR,
    direction VARCHAR,
    aspects VARCHAR,
    problem_addressed VARCHAR,
    linked_problem_ids VARCHAR,
    measures VARCHAR,
    results VARCHAR,
    public_recognition VARCHAR,
    principles VARCHAR,
    fault_tolerance BOOLEAN,
    fault_tolerance_reason VARCHAR,
    status VARCHAR,
    origin_case_id VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_innovation_case_unit_code ON innovation_case (unit_code);
CREATE INDEX ix_innovation_case_status ON innovation_case (status);
CREATE TABLE problem (
    id VARCHAR NOT NULL PRIMARY KEY,
    unit_code VARCHAR,
    title VARCHAR,
    description VARCHAR,
    category VARCHAR,
    source VARCHAR,
    reported_date VARCHAR,
    reporter VARCHAR,
    urgency VARCHAR,
    responsible_person VARCHAR,
    deadline VARCHAR,
    status VARCHAR,
    resolution VARCHAR,
    solved_by_case_id VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_problem_unit_code ON problem (unit_code);
CREATE INDEX ix_problem_deadline ON problem (deadline);
CREATE INDEX ix_problem_status ON problem (status);
CREATE TABLE followup (
    id VARCHAR NOT NULL PRIMARY KEY,
    problem_id VARCHAR,
    date VARCHAR,
    author VARCHAR,
    text VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_followup_problem_id ON followup (problem_id);
CREATE TABLE review (
    id VARCHAR NOT NULL PRIMARY KEY,
    case_id VARCHAR,
    decision VARCHAR,
    comment VARCHAR,
    reviewer VARCHAR,
    date VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_review_case_id ON review (case_id);
CREATE TABLE score (
    id VARCHAR NOT NULL PRIMARY KEY,
    case_id VARCHAR,
    expert VARCHAR,
    score INTEGER,
    comment VARCHAR,
    date VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_score_case_id ON score (case_id);
"""


def _core_tables(conn: sqlite3.Connection) -> None:
    run_script(conn, _V1_CORE)


def _core_search(conn: sqlite3.Connection) -> None:
    from villagebook.store.search_index import ensure_search_schema

    ensure_search_schema(conn)


def _core_list_indexes(conn: sqlite3.Connection) -> None:
    # Keyset paging of the case and ledger lists (newest first, filtered by status).
    run_script(conn, """
        CREATE INDEX ix_case_recent ON innovation_case (updated_hlc, id);
        CREATE INDEX ix_case_status_recent ON innovation_case (status, updated_hlc, id);
        CREATE INDEX ix_problem_recent ON problem (updated_hlc, id);
        CREATE INDEX ix_problem_status_deadline ON problem (status, deadline, id)
    """)


def _core_drop_covered_indexes(conn: sqlite3.Connection) -> None:
    # The (status, ...) list indexes serve every look-up by status alone; a second
    # index on status only costs each write of a case or problem another B-tree insert.
    run_script(conn, """
        DROP INDEX IF EXISTS ix_innovation_case_status;
        DROP INDEX IF EXISTS ix_problem_status
    """)


CORE_STEPS: tuple[Step, ...] = (
    ("core-1-tables", _core_tables),
    ("core-2-search", _core_search),
    ("core-3-list-indexes", _core_list_indexes),
    ("core-4-drop-covered-indexes", _core_drop_covered_indexes),
)


def all_steps() -> tuple[Step, ...]:
    """Every step, in the order a new database applies them.

    Each area of the app keeps its steps in its own module so that work on one
    area never edits another's history; names, not positions, say what is applied.
    """
    from villagebook.store import (
        schema_evaluation,
        schema_evidence,
        schema_inputs,
        schema_sync,
        schema_tui,
    )

    return (CORE_STEPS + schema_sync.STEPS + schema_evaluation.STEPS + schema_tui.STEPS
            + schema_evidence.STEPS + schema_inputs.STEPS)


class FutureSchemaError(Exception):
    """The database was written by a newer VillageBook than this one."""

    def __init__(self, unknown: list[str]) -> None:
        super().__init__(f"unknown schema steps: {', '.join(unknown)}")
        self.unknown = unknown


def schema_version(conn: sqlite3.Connection) -> int:
    """How many steps the database has applied (kept in `PRAGMA user_version`)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def applied_steps(conn: sqlite3.Connection) -> list[str]:
    """Names of the applied steps, in the order they were applied."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_step'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT name FROM schema_step ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, until: str | None = None) -> int:
    """Apply every step not yet applied (up to and including `until`), each in one
    transaction with its record, so a power cut leaves a whole step or none.
    Returns the number of applied steps."""
    steps = all_steps()
    if schema_version(conn) == len(steps) and until is None:
        return len(steps)  # the common case: nothing to do, and no extra query at start-up
    done = applied_steps(conn)
    unknown = sorted(set(done) - {name for name, _ in steps})
    if unknown:
        raise FutureSchemaError(unknown)
    for name, step in steps:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_step (name TEXT PRIMARY KEY)")
            if name in applied_steps(conn):  # another process applied it while we waited
                conn.execute("ROLLBACK")
                done = applied_steps(conn)
                continue
            step(conn)
            conn.execute("INSERT INTO schema_step (name) VALUES (?)", (name,))
            done.append(name)
            conn.execute(f"PRAGMA user_version = {len(done)}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if name == until:
            break
    return len(done)
