"""Schema steps of the terminal app (see `villagebook.store.migrations`).

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

import sqlite3

from villagebook.store.migrations_base import Step, run_script

# The dashboard's two full scans, made index-only: cases by (status, direction), and
# this device's changes since the last export.
_DASHBOARD_INDEXES = """
CREATE INDEX IF NOT EXISTS ix_case_status_direction ON innovation_case (status, direction);
CREATE INDEX IF NOT EXISTS ix_change_set_device ON change_set (device_id, hlc)
"""


def _dashboard_indexes(conn: sqlite3.Connection) -> None:
    run_script(conn, _DASHBOARD_INDEXES)


STEPS: tuple[Step, ...] = (
    ("tui-1-dashboard-indexes", _dashboard_indexes),
)
