"""What this node has heard, from whom, and what has not arrived.

Each origin numbers its bundles per receiver; a missing number in a stream this
node should see (addressed to it, or to a unit under it and relayed up) is a
gap: a lost stick, or a courier holding bundles back.
"""

from __future__ import annotations

from dataclasses import dataclass

from villagebook.i18n import _
from villagebook.store.node import Store
from villagebook.sync import trust


@dataclass(frozen=True)
class StreamStatus:
    """One origin's bundles to one receiver, as held here."""

    origin: str
    key_id: str
    receiver: str
    highest: int
    held: int
    last_heard: str
    last_created: str
    missing: tuple[tuple[int, int], ...]


def _missing(numbers: list[int]) -> tuple[tuple[int, int], ...]:
    gaps = []
    expected = 1
    for number in sorted(numbers):
        if number > expected:
            gaps.append((expected, number - 1))
        expected = max(expected, number + 1)
    return tuple(gaps)


def streams(store: Store) -> list[StreamStatus]:
    """Every stream of segments held, with its gaps, by origin."""
    node = store.node
    hierarchy = trust.hierarchy(store)
    grouped: dict[tuple[str, str, str], list[tuple[int, str, str]]] = {}
    for origin, key_id, receiver, seq, received, created in store.conn.execute(
            "SELECT origin_unit, key_id, receiver, seq, received_at, created_at "
            "FROM sync_segment"):
        grouped.setdefault((origin, key_id, receiver), []).append((seq, received, created))
    refused: dict[tuple[str, str], list[int]] = {}  # arrived, but refused: not missing
    for key_id, receiver, seq in store.conn.execute(
            "SELECT key_id, receiver, seq FROM sync_refused"):
        refused.setdefault((key_id, receiver), []).append(seq)
    found = []
    for (origin, key_id, receiver), rows in sorted(grouped.items()):
        numbers = [seq for seq, _, _ in rows]
        watched = hierarchy.below(receiver, node.unit_code)
        arrived = [*numbers, *(n for n in refused.get((key_id, receiver), [])
                               if n < max(numbers))]
        found.append(StreamStatus(
            origin, key_id, receiver, max(numbers), len(numbers),
            max(received for _, received, _ in rows), max(created for _, _, created in rows),
            _missing(arrived) if watched else ()))
    return found


def last_heard(store: Store) -> dict[str, str]:
    """Per origin unit, when a bundle of it last arrived here."""
    heard: dict[str, str] = {}
    for stream in streams(store):
        heard[stream.origin] = max(heard.get(stream.origin, ""), stream.last_heard)
    return heard


def gap_sentences(found: list[StreamStatus], names: dict[str, str]) -> list[str]:
    """Each gap as a sentence: "Bundles 5–6 from 白马村 have not arrived"."""
    lines = []
    for stream in found:
        who = names.get(stream.origin, stream.origin)
        for first, last in stream.missing:
            text = (_("Bundle {first} from {origin} has not arrived") if first == last else
                    _("Bundles {first}–{last} from {origin} have not arrived"))
            lines.append(text.format(first=first, last=last, origin=who))
    return lines


@dataclass(frozen=True)
class MergedBundle:
    """One signed segment merged here: who signed it, when, how much it carried,
    and the bundle file it arrived in (a relaying township's, for a village's)."""

    origin: str
    key_id: str
    receiver: str
    seq: int
    created_at: str
    received_at: str
    changes: int
    bundle_file: str


def merged_bundles(store: Store, limit: int = 500) -> list[MergedBundle]:
    """The segments merged here, newest arrival first (at most `limit`)."""
    rows = store.conn.execute(
        "SELECT origin_unit, key_id, receiver, seq, created_at, received_at, changes, "
        "bundle_file FROM sync_segment ORDER BY received_at DESC, origin_unit, seq DESC "
        "LIMIT ?", (limit,))
    return [MergedBundle(*row) for row in rows]
