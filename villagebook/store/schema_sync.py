"""Schema steps of the sync area (see `villagebook.store.migrations`).

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

import sqlite3

from villagebook.store.migrations_base import Step, run_script

_V1_TABLES = """
CREATE TABLE sync_key (
    key_id VARCHAR NOT NULL PRIMARY KEY,
    public_key VARCHAR NOT NULL,
    unit_code VARCHAR NOT NULL,
    parent_code VARCHAR,
    role VARCHAR NOT NULL,
    device_id VARCHAR,
    enrolled_by VARCHAR,
    trusted_at VARCHAR NOT NULL,
    revoked_at VARCHAR
);
CREATE INDEX ix_sync_key_unit_code ON sync_key (unit_code);
CREATE TABLE sync_segment (
    segment_id VARCHAR NOT NULL PRIMARY KEY,
    key_id VARCHAR NOT NULL,
    origin_unit VARCHAR NOT NULL,
    receiver VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    created_at VARCHAR NOT NULL,
    received_at VARCHAR NOT NULL,
    changes INTEGER NOT NULL,
    bundle_file VARCHAR NOT NULL,
    prefix VARCHAR NOT NULL
);
CREATE INDEX ix_sync_segment_origin_unit ON sync_segment (origin_unit);
CREATE TABLE sync_peer (
    unit_code VARCHAR NOT NULL PRIMARY KEY,
    acks VARCHAR NOT NULL,
    acked_local_seq INTEGER NOT NULL,
    next_seq INTEGER NOT NULL
);
CREATE TABLE sync_sent (
    receiver VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    max_local_seq INTEGER NOT NULL,
    created_at VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    PRIMARY KEY (receiver, seq)
)
"""


def _tables(conn: sqlite3.Connection) -> None:
    run_script(conn, _V1_TABLES)


# Acknowledgements are per device (two laptops of one unit hold different things);
# the bundle counter stays per receiving unit. Dropping old acks only costs a resend.
_V2_ACKS = """
DROP TABLE sync_peer;
CREATE TABLE sync_peer (
    unit_code VARCHAR NOT NULL PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE sync_ack (
    key_id VARCHAR NOT NULL PRIMARY KEY,
    unit_code VARCHAR NOT NULL,
    acks VARCHAR NOT NULL,
    acked_local_seq INTEGER NOT NULL
);
CREATE INDEX ix_sync_ack_unit_code ON sync_ack (unit_code)
"""


def _acks_per_device(conn: sqlite3.Connection) -> None:
    run_script(conn, _V2_ACKS)


def _device_hand_overs(conn: sqlite3.Connection) -> None:
    # A device of a unit is vouched for by the unit itself: a signed hand-over from one
    # of its devices, kept with the key so that it can travel on (see docs/SYNC.md).
    run_script(conn, "ALTER TABLE sync_key ADD COLUMN handover_by VARCHAR;"
                     "ALTER TABLE sync_key ADD COLUMN handover VARCHAR")


# Change sets dated too far ahead of this laptop's clock wait here, whole, until their
# time comes, instead of rejecting the bundle that brought them (a wrong clock elsewhere
# must not block a channel). The newest time heard from other devices starts from what
# is held, so an upgraded node can judge its own clock at once.
_V4_HELD = """
CREATE TABLE sync_held (
    set_id VARCHAR NOT NULL PRIMARY KEY,
    segment_id VARCHAR NOT NULL,
    origin_unit VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    hlc INTEGER NOT NULL,
    device_id VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    fields VARCHAR NOT NULL,
    replaces VARCHAR NOT NULL,
    held_at VARCHAR NOT NULL
);
CREATE INDEX ix_sync_held_hlc ON sync_held (hlc);
INSERT OR IGNORE INTO setting ("key", value)
    SELECT 'clock_seen_hlc', CAST(max(hlc) AS TEXT) FROM change_set
    WHERE device_id != (SELECT device_id FROM node WHERE id = 1) HAVING max(hlc) IS NOT NULL
"""


def _held_aside(conn: sqlite3.Connection) -> None:
    run_script(conn, _V4_HELD)


# Each merged segment's manifest hash, so a held number arriving with other content
# (a sender restored from an old copy) is noticed; and the segments refused here,
# remembered so that a carrier relaying one again is not reported every time (and is
# told to stop).
# Rows merged before this step keep '' (compared through the kept bundle file).
_V5_HASHES_REFUSALS = """
ALTER TABLE sync_segment ADD COLUMN manifest_sha256 VARCHAR NOT NULL DEFAULT '';
CREATE TABLE sync_refused (
    segment_id VARCHAR NOT NULL,
    manifest_sha256 VARCHAR NOT NULL,
    key_id VARCHAR NOT NULL,
    origin_unit VARCHAR NOT NULL,
    receiver VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    reason VARCHAR NOT NULL,
    refused_at VARCHAR NOT NULL,
    PRIMARY KEY (segment_id, manifest_sha256)
);
CREATE INDEX ix_sync_refused_origin_unit ON sync_refused (origin_unit)
"""


def _hashes_and_refusals(conn: sqlite3.Connection) -> None:
    run_script(conn, _V5_HASHES_REFUSALS)


# Encryption to the receiver's devices (age): each trusted key's recipient with the
# key's signature over it, the devices each bundle written here was encrypted to
# ('' for a plain one), and whether a merged segment arrived encrypted.
_V6_RECIPIENTS = """
ALTER TABLE sync_key ADD COLUMN recipient VARCHAR;
ALTER TABLE sync_sent ADD COLUMN encrypted_to VARCHAR NOT NULL DEFAULT '';
ALTER TABLE sync_segment ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0
"""


def _age_recipients(conn: sqlite3.Connection) -> None:
    run_script(conn, _V6_RECIPIENTS)


STEPS: tuple[Step, ...] = (
    ("sync-1-keys-segments-peers", _tables),
    ("sync-2-acks-per-device", _acks_per_device),
    ("sync-3-device-hand-overs", _device_hand_overs),
    ("sync-4-held-aside", _held_aside),
    ("sync-5-manifest-hashes-refusals", _hashes_and_refusals),
    ("sync-6-age-recipients", _age_recipients),
)
