"""Schema steps of the evaluation area (see `villagebook.store.migrations`).

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

import sqlite3

from villagebook.store.migrations_base import Step, run_script

_V1_TABLES = """
CREATE TABLE rubric (
    id VARCHAR NOT NULL PRIMARY KEY,
    district_code VARCHAR,
    period VARCHAR,
    weight_expert INTEGER,
    weight_approved INTEGER,
    approved_target INTEGER,
    weight_resolved INTEGER,
    overdue_penalty INTEGER,
    top_n INTEGER,
    bottom_n INTEGER,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_rubric_period ON rubric (period);
CREATE TABLE model_case (
    id VARCHAR NOT NULL PRIMARY KEY,
    case_id VARCHAR,
    citation VARCHAR,
    marked_by VARCHAR,
    date VARCHAR,
    withdrawn BOOLEAN,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_model_case_case_id ON model_case (case_id);
CREATE INDEX ix_case_origin ON innovation_case (origin_case_id)
"""


def _tables(conn: sqlite3.Connection) -> None:
    run_script(conn, _V1_TABLES)


def _model_snapshot(conn: sqlite3.Connection) -> None:
    # A model mark carries what adopting units need: they do not hold the case itself.
    run_script(conn, ";".join(
        f"ALTER TABLE model_case ADD COLUMN {column} VARCHAR"
        for column in ("origin_unit", "unit_name", "title", "direction", "aspects",
                       "problem_addressed", "measures", "results")))


def _partial_origin_index(conn: sqlite3.Connection) -> None:
    # Only adopted cases have an origin: index those, not a NULL for every other case
    # (`origin_case_id = ?` implies NOT NULL, so look-ups still use the index).
    run_script(conn, """
        DROP INDEX IF EXISTS ix_case_origin;
        CREATE INDEX ix_case_origin ON innovation_case (origin_case_id)
            WHERE origin_case_id IS NOT NULL
    """)


STEPS: tuple[Step, ...] = (
    ("evaluation-1-rubric-and-models", _tables),
    ("evaluation-2-model-snapshot", _model_snapshot),
    ("evaluation-3-partial-origin-index", _partial_origin_index),
)
