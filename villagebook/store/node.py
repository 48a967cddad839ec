"""A node's store: its database connection, its identity and its clock."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from villagebook.domain.clock import (
    DEFAULT_MAX_DRIFT_MS,
    ClockReading,
    ClockVerdict,
    HybridClock,
    judge,
    physical,
)
from villagebook.domain.enums import Role
from villagebook.store import db
from villagebook.store.home import PRIVATE_UMASK, database_path, keep_private

#: Tests and demos may pin the wall clock (ISO 8601) to play a laptop whose clock is wrong.
NOW_ENV = "VILLAGEBOOK_NOW"
#: Setting: the newest timestamp this node has applied from other devices.
SEEN_SETTING = "clock_seen_hlc"


def system_now() -> dt.datetime:
    """The wall clock as an aware datetime, honouring $VILLAGEBOOK_NOW."""
    pinned = os.environ.get(NOW_ENV)
    if pinned:
        value = dt.datetime.fromisoformat(pinned)
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc)


def system_ms() -> int:
    """The wall clock in milliseconds since the epoch."""
    if os.environ.get(NOW_ENV):
        return int(system_now().timestamp() * 1000)
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class NodeInfo:
    """Who this node is: its device, its unit and its role."""

    device_id: str
    unit_code: str
    role: Role
    created_at: str


class NotInitialised(Exception):
    """The home has no node yet (run `villagebook init`)."""


class Store:
    """A node's open database. Not thread-safe: one Store per thread."""

    def __init__(self, home: Path, *, wall_ms: Callable[[], int] = system_ms) -> None:
        self.home = home
        path = database_path(home)
        #: Whether this home cannot be written: reads work, writes raise `HomeReadOnly`.
        self.read_only = path.exists() and not db.writable(path)
        if self.read_only:
            self.conn: sqlite3.Connection = db.connect_read_only(path)
        else:
            self.conn = self._open_private(path)
        self._wall_ms = wall_ms
        self._node: NodeInfo | None = None
        #: Own changes re-dated by this Store (the laptop's clock had been set right).
        self.redated = 0
        #: The clocks as this Store's first write found them (None: it wrote nothing).
        self.clock_at_write: ClockReading | None = None

    @staticmethod
    def _open_private(path: Path) -> sqlite3.Connection:
        """Create (if needed) and open the home and its database, owner-only on POSIX."""
        previous = os.umask(PRIVATE_UMASK) if os.name == "posix" else None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = db.connect(path)
        finally:
            if previous is not None:
                os.umask(previous)
        keep_private(path.parent)
        return conn

    def close(self) -> None:
        """Close the connection (committed data is already durable)."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, bulk: bool = False) -> Iterator[sqlite3.Connection]:
        """An atomic write; see `villagebook.store.db.transaction`.

        `bulk` gives a large write (a merge, an import) a bigger page cache while it runs.
        """
        if self.read_only:
            raise db.HomeReadOnly(self.home)
        if not bulk:
            with db.transaction(self.conn) as conn:
                yield conn
            return
        with db.bulk_cache(self.conn), db.transaction(self.conn) as conn:
            yield conn

    @property
    def node(self) -> NodeInfo:
        """This node's identity; raises NotInitialised on a fresh home."""
        if self._node is None:
            row = self.conn.execute(
                "SELECT device_id, unit_code, role, created_at FROM node WHERE id = 1"
            ).fetchone()
            if row is None:
                raise NotInitialised(str(self.home))
            self._node = NodeInfo(row[0], row[1], Role(row[2]), row[3])
        return self._node

    @property
    def initialised(self) -> bool:
        """Whether `init` has run on this home."""
        try:
            return bool(self.node)
        except NotInitialised:
            return False

    def create_node(self, unit_code: str, role: Role) -> NodeInfo:
        """Record this node's identity with a fresh random device id (inside a transaction)."""
        device_id = secrets.token_hex(8)
        created = system_now().isoformat(timespec="seconds")
        self.conn.execute(
            "INSERT INTO node (id, device_id, unit_code, role, hlc, created_at) "
            "VALUES (1, ?, ?, ?, 0, ?)",
            (device_id, unit_code, role.value, created),
        )
        self._node = NodeInfo(device_id, unit_code, role, created)
        return self._node

    def wall_ms(self) -> int:
        """The wall clock used for timestamps (milliseconds)."""
        return self._wall_ms()

    def today(self) -> dt.date:
        """Today's date on this node's wall clock (local time)."""
        return dt.datetime.fromtimestamp(self._wall_ms() / 1000).date()

    def _clock(self) -> HybridClock:
        row = self.conn.execute("SELECT hlc FROM node WHERE id = 1").fetchone()
        return HybridClock(int(row[0]) if row else 0)

    def tick(self, count: int = 1) -> int:
        """A fresh timestamp for a local write; call inside the write's transaction.

        With `count` > 1, reserves that many consecutive timestamps (for a bulk
        write) and returns the first: consecutive integers are consecutive
        counter values, and an overflowing counter carries into the milliseconds
        exactly as `HybridClock` does. A clock left ahead by a laptop clock that
        has since been set right is settled first (`settle_clock`).
        """
        if self.clock_at_write is None:
            self.clock_at_write = self.clock_reading()
        self.settle_clock()
        clock = self._clock()
        stamp = clock.tick(self._wall_ms())
        self.conn.execute("UPDATE node SET hlc = ? WHERE id = 1", (stamp + count - 1,))
        return stamp

    def settle_clock(self, *, force: bool = False) -> int:
        """If this node's clock lies more than the drift bound ahead of the wall clock
        (and the wall clock is not behind the newest time heard from others), re-date
        this device's own changes stamped ahead of now (new changes with the same
        values that replace them, so nothing is lost and receivers that held the old
        ones aside see one value) and bring the clock back to the wall clock.

        `force` re-dates even when the wall clock lies behind the newest time heard
        (the way back when the laptops that were heard from ran ahead too); the
        newest time heard then forgets what lies ahead of the wall clock.
        Call inside a write transaction; returns how many change sets were re-dated.
        """
        wall = self._wall_ms()
        node_hlc = self._clock().last
        if physical(node_hlc) <= wall + DEFAULT_MAX_DRIFT_MS:
            return 0  # the common case, decided without reading the newest time seen
        verdict = judge(wall, node_hlc, self.seen_hlc())
        if verdict is not ClockVerdict.SET_BACK and not (force and verdict is ClockVerdict.BEHIND):
            return 0  # the common case, or a clock now behind: that must be set right first
        from villagebook.store.redate import newest_foreign, redate_future

        count, last = redate_future(self.conn, self.node.device_id, wall)
        self.conn.execute("UPDATE node SET hlc = ? WHERE id = 1", (last,))
        if force:
            self._put_seen(newest_foreign(self.conn, self.node.device_id, wall))
        self.redated += count
        return count

    def observe(self, remote: int, max_drift_ms: int | None = None) -> int:
        """Advance the clock past a received (and applied) timestamp, and remember it as
        the newest time heard from others (raises ClockDriftError)."""
        clock = self._clock()
        stamp = (
            clock.receive(remote, self._wall_ms())
            if max_drift_ms is None
            else clock.receive(remote, self._wall_ms(), max_drift_ms)
        )
        self.conn.execute("UPDATE node SET hlc = ? WHERE id = 1", (stamp,))
        if remote > self.seen_hlc():
            self._put_seen(remote)
        return stamp

    def _put_seen(self, stamp: int) -> None:
        self.conn.execute('INSERT INTO setting ("key", value) VALUES (?, ?) '
                          'ON CONFLICT("key") DO UPDATE SET value = excluded.value',
                          (SEEN_SETTING, str(stamp)))

    def node_hlc(self) -> int:
        """This node's hybrid clock: the last timestamp it issued or applied."""
        return self._clock().last

    def seen_hlc(self) -> int:
        """The newest timestamp applied from other devices (0 before the first merge)."""
        text = self.get_setting(SEEN_SETTING)
        return int(text) if text and text.isdigit() else 0

    def clock_reading(self) -> ClockReading:
        """The wall clock, this node's clock and the newest time seen, read now."""
        return ClockReading(self._wall_ms(), self._clock().last, self.seen_hlc())

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        """A local setting's stored text."""
        row = self.conn.execute('SELECT value FROM setting WHERE "key" = ?', (key,)).fetchone()
        return str(row[0]) if row else default

    def put_setting(self, key: str, value: str) -> None:
        """Store a local setting (never synced)."""
        with self.transaction():
            self.conn.execute(
                'INSERT INTO setting ("key", value) VALUES (?, ?) '
                'ON CONFLICT("key") DO UPDATE SET value = excluded.value',
                (key, value),
            )
