"""Opening a node's SQLite database with the settings that keep data safe.

- WAL journal: readers never block the writer (the UI reads while a merge writes).
- `synchronous=FULL`: in WAL mode, NORMAL may lose the last transactions on a
  power cut; FULL makes a committed record survive one.
- a busy timeout, so a second process (a script beside the app) waits instead of failing;
  a write waits for its turn up to `WRITE_PATIENCE_S` (a long merge in another process
  holds the home for a while), then fails with `HomeBusy`, which every front end shows as
  "another VillageBook is writing to this home". Reads never wait in WAL mode.
- foreign keys on, for the local tables that use them.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from villagebook.store.migrations import migrate

BUSY_TIMEOUT_MS = 10_000
#: How long a write waits, in all, for another process's write to finish: the largest
#: merge we measured (100k changes) holds the home well under a minute on an old laptop.
WRITE_PATIENCE_S = 120.0
#: errno values of a write that found no room: the disk, or the user's quota on it.
NO_ROOM = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
#: Page cache for one bulk write (a merge, an import): a whole batch's table and index
#: pages stay in memory instead of spilling to the WAL mid-transaction (a 100k-change
#: merge took 13% less time, medians of seven alternating runs). Everyday reads keep
#: SQLite's 2 MiB default, so the app's memory stays low.
BULK_CACHE_KIB = 32 * 1024


def connect(path: Path | str, *, upgrade: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path`, migrated to the current schema.

    The connection is in autocommit mode: all writes go through `transaction()`.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    if upgrade:
        migrate(conn)
    return conn


def writable(path: Path) -> bool:
    """Whether a database at `path` can be written: its folder and, if it exists, the
    file itself (a write-protected stick or a locked-down profile says no)."""
    if not os.access(path.parent, os.W_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open an existing database that cannot be written, for reading only.

    With no WAL file beside it (the last writer closed cleanly) the file is opened
    `immutable` (SQLite needs no -shm, which it could not create); with one, `mode=ro`
    reads through it. Every write then fails with SQLITE_READONLY (`is_read_only`).
    A database that would need a schema step cannot be read here: `HomeReadOnly`.
    """
    from villagebook.store.migrations import all_steps, schema_version

    wal = path.with_name(path.name + "-wal")
    flag = "mode=ro" if wal.exists() else "immutable=1"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flag}", uri=True,
                           isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if schema_version(conn) < len(all_steps()):
        conn.close()
        raise HomeReadOnly(path.parent)
    return conn


class HomeReadOnly(sqlite3.OperationalError):
    """This home's folder or database cannot be written; nothing was changed."""

    def __init__(self, home: Path) -> None:
        super().__init__(f"attempt to write a readonly database in {home}")
        self.home = home


class HomeBusy(sqlite3.OperationalError):
    """Another process kept this home's write lock for longer than `WRITE_PATIENCE_S`;
    nothing was written."""


def is_busy(error: BaseException | None) -> bool:
    """Whether `error` is SQLite's "database is locked" (SQLITE_BUSY) or a `HomeBusy`."""
    if isinstance(error, HomeBusy):
        return True
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "locked" in str(error).lower() or "busy" in str(error).lower()


def is_read_only(error: BaseException | None) -> bool:
    """Whether `error` is SQLite's "attempt to write a readonly database" (SQLITE_READONLY):
    the home's file or folder is write-protected."""
    if isinstance(error, HomeReadOnly):
        return True
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_READONLY)
    return "readonly" in str(error).lower()


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for our turn: each try waits the busy timeout, and tries
    repeat until `WRITE_PATIENCE_S` has passed (a merge in another process may run long)."""
    deadline = time.monotonic() + WRITE_PATIENCE_S
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            if time.monotonic() >= deadline:
                raise HomeBusy(str(error)) from None
            time.sleep(0.05)  # the busy handler may give up at once (a lock it cannot wait for)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic write: BEGIN IMMEDIATE … COMMIT, rolled back on any exception
    (including a failed COMMIT).

    Nested use joins the outer transaction, so a service can call another
    service and still commit once.
    """
    if conn.in_transaction:
        yield conn
        return
    _begin_immediate(conn)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk, SQLITE_FULL, does): a second
        # ROLLBACK would fail and hide the error that says why. A failed COMMIT may leave
        # the transaction open: roll it back, or the next write would silently join it.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def bulk_cache(conn: sqlite3.Connection) -> Iterator[None]:
    """Use a `BULK_CACHE_KIB` page cache for the duration, then restore the previous size."""
    (previous,) = conn.execute("PRAGMA cache_size").fetchone()
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {int(previous)}")


def disk_full(error: BaseException) -> bool:
    """Whether `error` is a write that found no room: SQLite's SQLITE_FULL, or an
    OSError with a `NO_ROOM` errno."""
    if isinstance(error, sqlite3.OperationalError):
        return "full" in str(error).lower()
    return isinstance(error, OSError) and error.errno in NO_ROOM
