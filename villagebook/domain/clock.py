"""A hybrid logical clock (Kulkarni et al., 2014) packed into one sortable integer.

A timestamp is `(l << 16) | c`: `l` is milliseconds since the Unix epoch (the
largest wall time seen), `c` a counter that orders events within one `l`.
Timestamps never go backwards however the laptop's clock jumps, and an event
that has seen another (through a bundle) is always stamped after it. They say
nothing about concurrency: that is what the change records' `replaces` links
are for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1
#: How far ahead of our own wall clock a received timestamp may be.
DEFAULT_MAX_DRIFT_MS = 24 * 3600 * 1000
#: How far this laptop's clock may jump past both the newest time heard from other
#: nodes and this node's own last write before a write warns. Far more than the drift
#: bound: a laptop left unused for a few weeks is normal, and a clock a few days fast
#: needs no warning (receivers hold its changes aside until their time comes).
AHEAD_WARNING_MS = 30 * 24 * 3600 * 1000
#: How far past anything heard from others a wall clock is warned about at every write.
AHEAD_LONG_MS = 366 * 24 * 3600 * 1000


class ClockDriftError(ValueError):
    """A received timestamp lies further in the future than the drift bound allows."""

    def __init__(self, remote: int, wall_ms: int) -> None:
        super().__init__(f"timestamp {remote} is ahead of wall clock {wall_ms}")
        self.remote = remote
        self.wall_ms = wall_ms

    @property
    def ahead_days(self) -> float:
        """How many days the remote timestamp is ahead of our wall clock."""
        return (physical(self.remote) - self.wall_ms) / 86_400_000


def pack(physical_ms: int, counter: int) -> int:
    """Pack wall milliseconds and a counter into one timestamp."""
    return (physical_ms << COUNTER_BITS) | counter


def physical(timestamp: int) -> int:
    """The wall-time part (milliseconds since the epoch) of a timestamp."""
    return timestamp >> COUNTER_BITS


def counter(timestamp: int) -> int:
    """The logical counter part of a timestamp."""
    return timestamp & COUNTER_MAX


def first_after(wall_ms: int, max_drift_ms: int = DEFAULT_MAX_DRIFT_MS) -> int:
    """The smallest timestamp that lies more than `max_drift_ms` ahead of `wall_ms`."""
    return pack(wall_ms + max_drift_ms + 1, 0)


class ClockVerdict(str, Enum):
    """What this laptop's clock looks like against what the node has seen."""

    OK = "ok"
    #: The wall clock runs far past the newest time heard from other nodes.
    AHEAD = "ahead"
    #: The node's own clock lies ahead of the wall clock: the laptop's clock ran ahead
    #: and has been set right; its own changes dated ahead are re-dated at the next write.
    SET_BACK = "set back"
    #: The wall clock lies behind the newest time heard from other nodes: it is wrong
    #: now (nothing is re-dated; received changes wait until it is set right).
    BEHIND = "behind"


@dataclass(frozen=True)
class ClockReading:
    """This laptop's wall clock, the node's hybrid clock and the newest time it has
    applied from other devices (0: none yet), read at one moment."""

    wall_ms: int
    node_hlc: int
    seen_hlc: int

    @property
    def verdict(self) -> ClockVerdict:
        """Whether the wall clock looks right (see `judge`)."""
        return judge(self.wall_ms, self.node_hlc, self.seen_hlc)

    @property
    def ahead_days(self) -> float:
        """How many days the wall clock runs past the newest time seen (0: none seen)."""
        if not self.seen_hlc:
            return 0.0
        return (self.wall_ms - physical(self.seen_hlc)) / 86_400_000

    @property
    def days_past_own_write(self) -> float:
        """How many days the wall clock runs past this node's own last write."""
        return (self.wall_ms - physical(self.node_hlc)) / 86_400_000 if self.node_hlc else 0.0


def judge(wall_ms: int, node_hlc: int, seen_hlc: int) -> ClockVerdict:
    """The verdict on a wall clock, given the node's clock and the newest time seen.

    Only applied timestamps count as seen, and those were within the drift bound of
    this laptop's clock when they arrived: a wall clock now more than the bound
    behind them has been set back too far. A node clock ahead of a wall clock that
    is not behind what others said means the laptop's clock ran ahead and is right
    again. A wall clock that jumps far past both the newest time heard and the
    node's own last write may be ahead (or the laptop was not used for a long time:
    hence a wide margin, and only a warning); so may one a year past anything heard.
    A fast clock writes with itself, so the jump shows at its first write; after
    that only the distance from what others said is left, and a village that has
    not merged for weeks is common, hence the year.
    """
    if seen_hlc and physical(seen_hlc) > wall_ms + DEFAULT_MAX_DRIFT_MS:
        return ClockVerdict.BEHIND
    if physical(node_hlc) > wall_ms + DEFAULT_MAX_DRIFT_MS:
        return ClockVerdict.SET_BACK
    own, seen = physical(node_hlc), physical(seen_hlc)
    if own and wall_ms > max(own, seen) + AHEAD_WARNING_MS:
        return ClockVerdict.AHEAD  # a jump past everything this node knew
    if seen and wall_ms > seen + AHEAD_LONG_MS:
        return ClockVerdict.AHEAD
    return ClockVerdict.OK


def to_datetime(timestamp: int) -> dt.datetime:
    """The wall time of a timestamp, as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(physical(timestamp) / 1000, tz=dt.timezone.utc)


@dataclass
class HybridClock:
    """The clock's state: the last timestamp issued or received (`last`)."""

    last: int = 0

    def tick(self, wall_ms: int) -> int:
        """A timestamp for a local event (a write, or sending a bundle)."""
        old_l, old_c = physical(self.last), counter(self.last)
        new_l = max(old_l, wall_ms)
        new_c = old_c + 1 if new_l == old_l else 0
        self.last = self._carry(new_l, new_c)
        return self.last

    def receive(self, remote: int, wall_ms: int, max_drift_ms: int = DEFAULT_MAX_DRIFT_MS) -> int:
        """Merge a remote timestamp into the clock; refuse one too far in the future."""
        remote_l, remote_c = physical(remote), counter(remote)
        if remote_l > wall_ms + max_drift_ms:
            raise ClockDriftError(remote, wall_ms)
        old_l, old_c = physical(self.last), counter(self.last)
        new_l = max(old_l, remote_l, wall_ms)
        if new_l == old_l == remote_l:
            new_c = max(old_c, remote_c) + 1
        elif new_l == old_l:
            new_c = old_c + 1
        elif new_l == remote_l:
            new_c = remote_c + 1
        else:
            new_c = 0
        self.last = self._carry(new_l, new_c)
        return self.last

    @staticmethod
    def _carry(l_ms: int, c: int) -> int:
        # A counter overflow borrows the next millisecond: still monotonic, still causal.
        if c > COUNTER_MAX:
            return pack(l_ms + 1, 0)
        return pack(l_ms, c)
