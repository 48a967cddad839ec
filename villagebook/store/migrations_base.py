"""What a schema step is, shared by every area's list of steps."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: A named schema step: its name is recorded once applied, so it must never change.
Step = tuple[str, Callable[[sqlite3.Connection], None]]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction.

    `executescript()` would COMMIT first, splitting a step in two.
    """
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
