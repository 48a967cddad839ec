"""This laptop's clock as the user sees it: warnings and the re-dating notice.

A clock far ahead of anything heard from other nodes is only warned about:
receivers hold such changes aside, and the changes are re-dated once the clock
is set right (`villagebook.store.redate`), so nothing needs refusing here.
"""

from __future__ import annotations

from villagebook.domain.clock import (
    AHEAD_WARNING_MS,
    ClockReading,
    ClockVerdict,
    pack,
    physical,
    to_datetime,
)
from villagebook.i18n import _
from villagebook.store.node import Store


def when(timestamp: int) -> str:
    """A hybrid-clock timestamp as `2036-11-27 10:00` (UTC)."""
    return to_datetime(timestamp).strftime("%Y-%m-%d %H:%M")


def wall_when(wall_ms: int) -> str:
    """Wall-clock milliseconds as `2036-11-27 10:00` (UTC)."""
    return when(pack(wall_ms, 0))


def warning(reading: ClockReading) -> str | None:
    """A one-line warning about this laptop's clock, or None when it looks right."""
    verdict = reading.verdict
    if verdict is ClockVerdict.AHEAD and reading.seen_hlc and \
            physical(reading.seen_hlc) + AHEAD_WARNING_MS < reading.wall_ms:
        return _("This laptop's clock reads {now}, {days:.0f} days after the newest time heard "
                 "from other nodes ({seen}); if the date is wrong, set it right: other nodes "
                 "hold aside changes dated ahead of their clocks").format(
            now=wall_when(reading.wall_ms), days=reading.ahead_days,
            seen=when(reading.seen_hlc))
    if verdict is ClockVerdict.AHEAD:
        return _("This laptop's clock reads {now}, {days:.0f} days after this node last "
                 "wrote ({last}); if the date is wrong, set it right: other nodes hold aside "
                 "changes dated ahead of their clocks").format(
            now=wall_when(reading.wall_ms), days=reading.days_past_own_write,
            last=when(reading.node_hlc))
    if verdict is ClockVerdict.SET_BACK:
        return _("This node's clock reads {node}, ahead of this laptop's clock ({now}); the "
                 "changes written while the clock was ahead are re-dated at the next save or "
                 "export").format(node=when(reading.node_hlc),
                                  now=wall_when(reading.wall_ms))
    if verdict is ClockVerdict.BEHIND:
        return _("This laptop's clock reads {now}, before the newest time heard from other "
                 "nodes ({seen}); set it right (changes received meanwhile are held aside). If "
                 "it is right, those nodes ran ahead too: run villagebook clock --redate").format(
            now=wall_when(reading.wall_ms), seen=when(reading.seen_hlc))
    return None


def redated_notice(count: int) -> str:
    """What re-dating did, in one line."""
    return _("Re-dated {count} changes written while this laptop's clock was ahead: they keep "
             "their values, with today's date").format(count=count)


def settle(store: Store) -> int:
    """Re-date this device's changes dated ahead of a clock set right (the app does
    this on start, so the user hears of it at once); how many change sets."""
    if store.clock_reading().verdict is not ClockVerdict.SET_BACK:
        return 0
    with store.transaction():
        return store.settle_clock()
