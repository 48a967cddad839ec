"""The hybrid logical clock: monotonic whatever the wall clock does, and causal."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from villagebook.domain.clock import (
    COUNTER_MAX,
    ClockDriftError,
    HybridClock,
    counter,
    pack,
    physical,
)

# Wall-clock readings from 1970 to ~2100 in milliseconds, in any order: laptops
# whose clocks jump back, stick, or are years wrong.
walls = st.integers(min_value=0, max_value=4_102_444_800_000)


@given(st.lists(walls, min_size=1, max_size=200))
def test_local_events_are_strictly_increasing_under_any_wall_clock(readings: list[int]) -> None:
    clock = HybridClock()
    stamps = [clock.tick(wall) for wall in readings]
    assert all(a < b for a, b in itertools.pairwise(stamps))


@given(st.lists(walls, min_size=1, max_size=100))
def test_timestamps_never_fall_behind_the_wall_clock(readings: list[int]) -> None:
    clock = HybridClock()
    for wall in readings:
        assert physical(clock.tick(wall)) >= wall


@given(
    st.lists(st.tuples(st.booleans(), walls, walls), min_size=1, max_size=100),
)
def test_a_received_event_is_ordered_after_its_cause(
    events: list[tuple[bool, int, int]],
) -> None:
    """Two laptops exchange bundles; whatever their clocks say, a receiver's next
    stamp exceeds every stamp it has received (happened-before is preserved)."""
    village, township = HybridClock(), HybridClock()
    for village_sends, wall_a, wall_b in events:
        sender, receiver = (village, township) if village_sends else (township, village)
        sent = sender.tick(wall_a)
        received = receiver.receive(sent, wall_b, max_drift_ms=10**15)
        assert received > sent
        assert receiver.tick(wall_b) > sent


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    clock = HybridClock(pack(1000, COUNTER_MAX))
    stamp = clock.tick(1000)
    assert physical(stamp) == 1001 and counter(stamp) == 0


def test_a_timestamp_years_ahead_is_refused() -> None:
    clock = HybridClock()
    wall = 1_700_000_000_000
    far_future = pack(wall + 3 * 365 * 86_400_000, 0)
    try:
        clock.receive(far_future, wall)
    except ClockDriftError as error:
        assert 1000 < error.ahead_days < 1100
    else:
        raise AssertionError("drift was accepted")
    assert clock.last == 0, "a refused timestamp must not move the clock"


def test_the_verdict_on_a_laptop_clock() -> None:
    from villagebook.domain.clock import AHEAD_WARNING_MS, DEFAULT_MAX_DRIFT_MS, ClockVerdict, judge

    day = 86_400_000
    wall = 1_800_000_000_000
    heard = pack(wall - 3 * day, 0)  # the township's bundle, three days old
    assert judge(wall, pack(wall, 0), 0) is ClockVerdict.OK  # nothing heard yet
    assert judge(wall, pack(wall, 0), heard) is ClockVerdict.OK
    # Ahead means past both the newest time heard and the node's own last write: a
    # village that last merged months ago but wrote yesterday is not warned.
    assert judge(wall + AHEAD_WARNING_MS, pack(wall - 3 * day, 0), heard) is ClockVerdict.AHEAD
    assert judge(wall + AHEAD_WARNING_MS, pack(wall, 0), heard) is ClockVerdict.OK
    assert judge(wall + 90 * day, pack(wall + 89 * day, 0), heard) is ClockVerdict.OK
    # Nothing heard yet: a laptop ten years past its own last write is warned.
    assert judge(wall + 3653 * day, pack(wall, 0), 0) is ClockVerdict.AHEAD
    # The node stamped ten years ahead, and the laptop's clock has been set right.
    assert judge(wall, pack(wall + 3653 * day, 0), heard) is ClockVerdict.SET_BACK
    assert judge(wall, pack(wall + DEFAULT_MAX_DRIFT_MS, 0), heard) is ClockVerdict.OK
    # Set back to before what others said: the clock is wrong now, nothing is re-dated.
    assert judge(wall - 365 * day, pack(wall, 0), heard) is ClockVerdict.BEHIND
