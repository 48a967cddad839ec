"""Bundle numbers: which are plausible, which are reused, and what was refused.

Each origin numbers its bundles per receiver (a *stream*, `KEY>RECEIVER`). A
number far past what the stream has reached is refused (`implausible_number`):
a signed but absurd number would otherwise sit in every later bundle that relays
it. A number already held with another manifest is refused too
(`reused_number`): the sender was restored from an old copy and numbered new
work like old. Refused segments are remembered (segment id, manifest hash,
reason): acknowledged back so the carrier stops relaying them, reported once,
and named in this node's bundles to their origin, which then sends the work
again under a fresh number (`heal_own_streams`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import zipfile
from pathlib import Path

from villagebook.i18n import N_
from villagebook.store.node import Store, system_now
from villagebook.sync import format as fmt
from villagebook.sync import trust
from villagebook.sync.errors import BundleRejected
from villagebook.sync.verify import Segment

#: How far past the highest number held in its stream a segment's number may be
#: (a new stream: at most this). Bundles lost on the way leave gaps, never this many.
WINDOW = 1000
#: How many refusals a bundle names to their origin (the newest).
MAX_NAMED_REFUSALS = fmt.MAX_REFUSALS
#: Refusals that say something about this node, not the segment: never remembered,
#: so the segment is checked again when it comes again.
TRANSIENT = frozenset({"unknown_key", "clock"})


def highest_held(conn: sqlite3.Connection, key_id: str, receiver: str) -> int:
    """The highest number of stream `key_id>receiver` merged here (0: none)."""
    row = conn.execute("SELECT max(seq) FROM sync_segment WHERE key_id = ? AND receiver = ?",
                       (key_id, receiver)).fetchone()
    return int(row[0] or 0)


def check_plausible(manifest: fmt.Manifest, highest: int) -> None:
    """Refuse a number more than WINDOW past the highest held in its stream."""
    if manifest.seq > highest + WINDOW:
        raise BundleRejected(
            "implausible_number",
            N_("Bundle number {seq} from unit {origin} is implausible: this node holds that "
               "stream only up to number {highest}"),
            seq=manifest.seq, origin=manifest.origin, highest=highest)


def held_hash(store: Store, segment_id: str) -> str | None:
    """The manifest hash of a held segment ('' if unknown), or None when not held.

    Segments merged before hashes were stored are hashed from the kept bundle file
    once, and the hash is stored.
    """
    row = store.conn.execute("SELECT manifest_sha256, bundle_file, prefix FROM sync_segment "
                             "WHERE segment_id = ?", (segment_id,)).fetchone()
    if row is None:
        return None
    found, bundle_file, prefix = row
    if not found:
        found = _kept_manifest_hash(store.home / "bundles" / bundle_file, prefix)
        if found:
            store.conn.execute("UPDATE sync_segment SET manifest_sha256 = ? WHERE segment_id = ?",
                               (found, segment_id))
    return str(found)


def _kept_manifest_hash(path: Path, prefix: str) -> str:
    try:
        with zipfile.ZipFile(path) as kept:
            return hashlib.sha256(kept.read(prefix + fmt.MANIFEST)).hexdigest()
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""  # no copy to compare with: treated as the same segment, as before


def reused_number(manifest: fmt.Manifest) -> BundleRejected:
    """The refusal for a held number arriving with a different manifest."""
    return BundleRejected(
        "reused_number",
        N_("Unit {origin} sent bundle number {seq} again with different content: its laptop "
           "was probably restored from an old copy. Nothing of it was merged; on that laptop, "
           "merge this node's newest bundle, then export again, and the work is sent under "
           "a new number"), origin=manifest.origin, seq=manifest.seq)


def check_number(store: Store, segment: Segment, highest: int) -> bool:
    """Whether the segment is held already (same manifest); refuse a reused or an
    implausible number."""
    manifest = segment.manifest
    found = held_hash(store, manifest.segment)
    if found is not None:
        if found and segment.manifest_sha256 and found != segment.manifest_sha256:
            raise reused_number(manifest)
        return True
    check_plausible(manifest, highest)
    return False


def was_refused(conn: sqlite3.Connection, segment_id: str, manifest_sha256: str) -> bool:
    """Whether this very segment (id and manifest) was refused here before."""
    return conn.execute("SELECT 1 FROM sync_refused WHERE segment_id = ? AND "
                        "manifest_sha256 = ?", (segment_id, manifest_sha256)).fetchone() \
        is not None


def remember(conn: sqlite3.Connection, segment: str, manifest_sha256: str, origin: str,
             reason: str) -> None:
    """Remember a refused segment (unless the refusal may not hold next time)."""
    if reason in TRANSIENT or not fmt.SEGMENT_ID.fullmatch(segment):
        return
    key_id, receiver, seq = segment.split("-")
    conn.execute(
        "INSERT OR IGNORE INTO sync_refused (segment_id, manifest_sha256, key_id, origin_unit, "
        "receiver, seq, reason, refused_at) VALUES (?,?,?,?,?,?,?,?)",
        (segment, manifest_sha256, key_id, origin, receiver, int(seq), reason,
         system_now().isoformat(timespec="seconds")))


def refused_streams(conn: sqlite3.Connection) -> dict[str, list[int]]:
    """Numbers refused here, per stream: acknowledged, so carriers stop relaying them."""
    streams: dict[str, list[int]] = {}
    for key_id, receiver, seq in conn.execute("SELECT key_id, receiver, seq FROM sync_refused"):
        streams.setdefault(f"{key_id}>{receiver}", []).append(seq)
    return streams


def refusals_for(conn: sqlite3.Connection, receiver: str) -> list[dict[str, str]]:
    """The refusals a bundle to `receiver` names: the newest of its own segments."""
    rows = conn.execute(
        "SELECT segment_id, manifest_sha256, reason FROM sync_refused WHERE origin_unit = ? "
        "ORDER BY refused_at DESC, segment_id LIMIT ?", (receiver, MAX_NAMED_REFUSALS))
    return [{"segment": segment, "manifest_sha256": manifest_sha256, "reason": reason}
            for segment, manifest_sha256, reason in rows]


def heal_own_streams(store: Store, refusals: tuple[fmt.Refusal, ...]) -> None:
    """A bundle of ours refused for its reused number is forgotten as sent, and the
    receiver is no longer counted as holding what it carried, so the next export
    sends that work again (under a fresh number, see `skip_held_numbers`)."""
    own = trust.own_key(store).key_id
    conn = store.conn
    for refusal in refusals:
        key_id, receiver, seq = refusal.segment.split("-")
        if refusal.reason != "reused_number" or key_id != own:
            continue
        # Matched by number: a bundle of that number that did arrive would only be
        # sent again, which merging tolerates.
        deleted = conn.execute("DELETE FROM sync_sent WHERE receiver = ? AND seq = ?",
                               (receiver, int(seq))).rowcount
        if not deleted:
            continue  # healed already
        # Nor does it hold the files that bundle listed: the work goes again with them.
        conn.execute("DELETE FROM sync_segment_file WHERE segment_id = ?", (refusal.segment,))
        floor = conn.execute("SELECT coalesce(max(max_local_seq), 0) FROM sync_sent WHERE "
                             "receiver = ? AND seq < ?", (receiver, int(seq))).fetchone()[0]
        conn.execute("UPDATE sync_ack SET acked_local_seq = min(acked_local_seq, ?) "
                     "WHERE unit_code = ?", (floor, receiver))


def skip_held_numbers(store: Store, receiver: str, own_stream: list[list[int]]) -> None:
    """Move our next number to `receiver` past every number it says it holds of our
    stream: after a restore from an old copy, the next bundle takes a fresh number."""
    if not own_stream:
        return
    highest = min(max(high for _, high in own_stream), fmt.MAX_SEQ - 1)
    store.conn.execute(
        "INSERT INTO sync_peer (unit_code, next_seq) VALUES (?, ?) ON CONFLICT(unit_code) "
        "DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)", (receiver, highest + 1))
