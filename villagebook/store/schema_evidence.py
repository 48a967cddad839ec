"""Schema steps of evidence files (see `villagebook.store.migrations`).

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

import sqlite3

from villagebook.store.migrations_base import Step, run_script

# The projection of `attachment` records; the files themselves live under HOME/files.
_V1_TABLES = """
CREATE TABLE attachment (
    id VARCHAR NOT NULL PRIMARY KEY,
    unit_code VARCHAR,
    record_kind VARCHAR,
    record_id VARCHAR,
    caption VARCHAR,
    kind VARCHAR,
    name VARCHAR,
    size INTEGER,
    media_type VARCHAR,
    sha256 VARCHAR,
    taken_date VARCHAR,
    attached_by VARCHAR,
    attached_at VARCHAR,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX ix_attachment_record_id ON attachment (record_id);
CREATE INDEX ix_attachment_sha256 ON attachment (sha256)
"""


def _tables(conn: sqlite3.Connection) -> None:
    run_script(conn, _V1_TABLES)


# The files each held segment's signed manifest lists (its change sets point at them):
# a receiver that acknowledges a segment holds its files, so a sender never carries
# them to it again (see docs/SYNC.md, "Files in bundles").
_V2_SEGMENT_FILES = """
CREATE TABLE sync_segment_file (
    segment_id VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (segment_id, sha256)
);
CREATE INDEX ix_sync_segment_file_sha256 ON sync_segment_file (sha256)
"""


def _segment_files(conn: sqlite3.Connection) -> None:
    run_script(conn, _V2_SEGMENT_FILES)


STEPS: tuple[Step, ...] = (
    ("evidence-1-attachment", _tables),
    ("evidence-2-segment-files", _segment_files),
)
