"""Merging bundles: verify everything, then apply each bundle in one transaction.

A rejected bundle changes nothing (its transaction rolls back); the others
still merge. A relayed segment that fails its own checks is refused alone (a
savepoint undoes what it wrote) and named in `MergeResult.refused_segments`,
so one bad village segment never blocks its township's bundles. Change sets
are read line by line and applied in batches inside the bundle's transaction,
so memory stays bounded however large the bundle, and a failure on the last
line still undoes the first.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from villagebook.domain.clock import DEFAULT_MAX_DRIFT_MS, ClockDriftError, first_after
from villagebook.domain.enums import Role
from villagebook.domain.fields import ENTITIES
from villagebook.i18n import N_
from villagebook.services.errors import Refused
from villagebook.store.changelog import ChangeSet, IndexQueue, MalformedChange, apply_sets
from villagebook.store.db import disk_full
from villagebook.store.node import Store, system_now
from villagebook.sync import bundle_files, kept, numbers, opening, quarantine, trust
from villagebook.sync import format as fmt
from villagebook.sync.age_keys import Binding
from villagebook.sync.archive import SafeArchive
from villagebook.sync.authorise import check_claims, check_shape, check_writer
from villagebook.sync.errors import BundleRejected
from villagebook.sync.rules_check import BatchRules
from villagebook.sync.verify import Segment, check_listed, check_members, verified_manifest

BATCH_SETS = 2000
#: Called after each batch: change sets done so far in a segment, and the segment's total.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SegmentRefusal:
    """A relayed segment refused alone; the rest of its bundle merged."""

    segment: str
    origin: str
    error: Refused

    @property
    def reason(self) -> str:
        """The stable code of the refusal."""
        return getattr(self.error, "reason", "rejected")


@dataclass
class MergeResult:
    """What happened to one bundle file."""

    path: Path
    status: str = "merged"  # merged | already | verified | rejected
    origin: str = ""
    receiver: str = ""
    seq: int = 0
    segments: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    error: Refused | None = None
    origins: list[str] = field(default_factory=list)
    #: Change sets dated too far ahead of this laptop's clock, held aside, per origin
    #: unit: (how many, newest timestamp).
    held_aside: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Change sets held aside earlier whose time had come, applied by this merge.
    released: int = 0
    refused_segments: list[SegmentRefusal] = field(default_factory=list)
    #: The root segment (id, manifest hash) to remember as refused after the rollback.
    remember_root: tuple[str, str] | None = None
    #: Whether the file arrived encrypted (age) to this device.
    encrypted: bool = False

    @property
    def reason(self) -> str:
        """The stable code of the rejection, or ''."""
        return getattr(self.error, "reason", "rejected") if self.error else ""

    @property
    def refused_anything(self) -> bool:
        """Whether the bundle, or any segment of it, was refused (exit code 1)."""
        return self.status == "rejected" or bool(self.refused_segments)


class _DryRun(Exception):
    """Raised at the end of a verify-only run to roll its transaction back."""


class _AlreadyMerged(Exception):
    """Raised when every segment of a bundle is held: nothing to write."""


#: Errors that refuse a segment's content (a relayed one alone, the root with its bundle).
_CONTENT_ERRORS = (Refused, ClockDriftError, MalformedChange, RecursionError)


def as_refusal(error: BaseException) -> Refused:
    """A content error as the refusal the user reads."""
    if isinstance(error, ClockDriftError):
        return BundleRejected(
            "clock", N_("A timestamp lies {days:.0f} days in the future; check this laptop's "
            "clock or the sender's"), days=error.ahead_days)
    if isinstance(error, MalformedChange):
        return BundleRejected(
            "bad_change", N_("A change record in the bundle is invalid ({what})"),
            what="change set differs from the one held")
    if isinstance(error, RecursionError):  # load_json refuses deep nesting first
        return BundleRejected("bad_json", N_("The bundle holds invalid JSON"))
    if not isinstance(error, Refused):
        raise TypeError(f"not a refusal: {error!r}")
    return error


def merge_files(store: Store, paths: list[Path], *, dry_run: bool = False,
                progress: Progress | None = None) -> list[MergeResult]:
    """Merge (or, with `dry_run`, only verify) each bundle in its own transaction."""
    return [merge_file(store, path, dry_run=dry_run, progress=progress) for path in paths]


def merge_file(store: Store, path: Path, *, dry_run: bool = False,
               progress: Progress | None = None) -> MergeResult:
    """Verify then merge one bundle; never raises for bad input (see `.error`)."""
    result = MergeResult(path)
    try:
        with opening.plaintext(store, path) as (inner, result.encrypted), \
                SafeArchive(inner) as archive:
            _merge(store, archive, result, dry_run, progress)
    except _DryRun:
        result.status = "verified"
    except _AlreadyMerged:
        result.status = "already"
    except _CONTENT_ERRORS as error:
        result.status, result.error = "rejected", as_refusal(error)
        result.refused_segments = []
        _remember_root(store, result)
    except OSError as error:
        # Our own disk (full, over quota, read-only) is not this bundle's fault, even
        # when the failed call names the bundle (a sendfile copy of it, on Linux).
        if disk_full(error) or error.errno == errno.EROFS or \
                error.filename not in (str(path), path):
            raise
        result.status, result.error = "rejected", BundleRejected(
            "unreadable", N_("Cannot read {path}"), path=str(path))
    return result


def _remember_root(store: Store, result: MergeResult) -> None:
    """A bundle refused for a reused number is remembered (alone, after the rollback),
    so that this node's next bundle to its sender names the refusal."""
    if result.remember_root is None:
        return
    segment, manifest_sha256 = result.remember_root
    with store.transaction() as conn:
        numbers.remember(conn, segment, manifest_sha256, result.origin, result.reason)


def _merge(store: Store, archive: SafeArchive, result: MergeResult, dry_run: bool,
           progress: Progress | None) -> None:
    root = verified_manifest(store, archive)
    manifest = root.manifest
    result.origin, result.receiver, result.seq = manifest.origin, manifest.receiver, manifest.seq
    if manifest.receiver != store.node.unit_code:
        raise BundleRejected("wrong_receiver", N_("This bundle was made for unit {receiver}, not "
                             "for this node's unit {unit}"), receiver=manifest.receiver,
                             unit=store.node.unit_code)
    check_members(archive, manifest)
    received = bundle_files.receive(store, archive, manifest, write=not dry_run)
    try:
        with store.transaction(bulk=True) as conn:
            for key_id in manifest.revocations:
                trust.accept_revocation(store, root.key, key_id)
            for enrolment in manifest.enrolments:
                trust.accept_enrolment(store, root.key, enrolment)
            trust.learn_recipient(store, root.key, Binding.parse(manifest.recipient))
            root_held = _root_held(store, root, result, dry_run)
            relayed = _fresh_relayed(store, archive, manifest, result)
            result.segments = 1 + len(manifest.relayed)
            result.origins = sorted({manifest.origin, *(s.manifest.origin for s in relayed),
                                     *(r.origin for r in result.refused_segments if r.origin)})
            if root_held and not relayed and not result.refused_segments:
                raise _AlreadyMerged  # the same bundle again: roll back even its enrolments
            _record_acks(store, root.key, manifest)
            conflicts_before = _count(conn, "conflict")
            hierarchy = trust.hierarchy(store)
            stored = "" if dry_run else kept.keep(
                store.home, archive, root.manifest_sha256,
                with_files=bool(root.manifest.carries))
            index = IndexQueue(conn)
            result.released = quarantine.release_due(store, index)
            if not root_held:  # the sender's own changes: a refusal refuses the bundle
                _apply_segment(store, archive, root, hierarchy, result, progress, index,
                               received)
                _record_segment(conn, root, stored)
            highest: dict[str, int] = {}
            for segment in relayed:
                refusal = _merge_relayed(store, archive, segment, hierarchy, result, progress,
                                         index, stored, highest, received)
                if refusal is not None:
                    _refuse_segment(conn, result, refusal, segment.manifest_sha256)
            if not dry_run:
                index.flush()
            result.conflicts = max(0, _count(conn, "conflict") - conflicts_before)
            _check_layer(store, result, stored)
            if dry_run:
                raise _DryRun
            # The files go into place before the records commit: a kill -9 leaves at
            # worst files without records (merging again completes), never the reverse.
            received.commit(store.home)
    finally:
        received.discard()


def _check_layer(store: Store, result: MergeResult, stored: str) -> None:
    """Refuse a plain bundle where encryption is required (last: a damaged or hostile
    one is named for what it is); note an encrypted one for the Sync screen."""
    if not result.encrypted and opening.requires_encryption(store):
        raise opening.not_encrypted()
    if result.encrypted and stored:
        store.conn.execute("UPDATE sync_segment SET encrypted = 1 WHERE bundle_file = ?",
                           (stored,))


def _root_held(store: Store, root: Segment, result: MergeResult, dry_run: bool) -> bool:
    """Whether the root segment is held; refuse its number if reused or implausible."""
    m = root.manifest
    try:
        return numbers.check_number(store, root, numbers.highest_held(
            store.conn, m.key_id, m.receiver))
    except BundleRejected as error:
        if error.reason == "reused_number" and not dry_run:
            result.remember_root = (m.segment, root.manifest_sha256)
        raise


def _fresh_relayed(store: Store, archive: SafeArchive, manifest: fmt.Manifest,
                   result: MergeResult) -> list[Segment]:
    """The relayed segments not held here, verified, in number order per stream.

    A segment refused here before (same id, same manifest) is skipped quietly: its
    carrier learns from our acks to stop relaying it. One that fails its own
    checks is refused alone (into `result.refused_segments`); a carrier whose
    listing disagrees with what it carries is refused as a whole.
    """
    fresh = []
    for listed in manifest.relayed:
        found = numbers.held_hash(store, listed.segment)
        if found is not None and (not found or found == listed.manifest_sha256):
            continue
        if numbers.was_refused(store.conn, listed.segment, listed.manifest_sha256):
            continue
        try:
            segment = verified_manifest(store, archive, f"{fmt.SEGMENT_DIR}{listed.segment}/")
        except _CONTENT_ERRORS as error:
            _refuse_segment(store.conn, result, SegmentRefusal(
                listed.segment, _origin_of(store, listed.segment), as_refusal(error)),
                listed.manifest_sha256)
            continue
        check_listed(segment, listed)
        fresh.append(segment)
    return sorted(fresh, key=lambda s: (s.manifest.key_id, s.manifest.receiver, s.manifest.seq))


def _origin_of(store: Store, segment: str) -> str:
    """The unit a segment's key speaks for here ('' if the key is unknown)."""
    row = store.conn.execute("SELECT unit_code FROM sync_key WHERE key_id = ?",
                             (segment.split("-")[0],)).fetchone()
    return str(row[0]) if row else ""


def _merge_relayed(store: Store, archive: SafeArchive, segment: Segment,
                   hierarchy: trust.Hierarchy, result: MergeResult, progress: Progress | None,
                   index: IndexQueue, stored: str, highest: dict[str, int],
                   received: bundle_files.Received) -> SegmentRefusal | None:
    """Check and apply one relayed segment under a savepoint; a refusal undoes what
    it wrote (its change sets, search queue, device binding, clock) and is returned."""
    m = segment.manifest
    stream = f"{m.key_id}>{m.receiver}"
    tally = MergeResult(result.path)
    store.conn.execute("SAVEPOINT relayed_segment")
    try:
        if stream not in highest:
            highest[stream] = numbers.highest_held(store.conn, m.key_id, m.receiver)
        if numbers.check_number(store, segment, highest[stream]):
            store.conn.execute("RELEASE relayed_segment")
            return None  # held after all (listed under an older, hash-less row)
        _apply_segment(store, archive, segment, hierarchy, tally, progress, index, received)
        _record_segment(store.conn, segment, stored)
    except _CONTENT_ERRORS as error:
        store.conn.execute("ROLLBACK TO relayed_segment")
        store.conn.execute("RELEASE relayed_segment")
        return SegmentRefusal(m.segment, m.origin, as_refusal(error))
    store.conn.execute("RELEASE relayed_segment")
    highest[stream] = max(highest[stream], m.seq)  # a chain 1..N in one bundle is plausible
    _add_tally(result, tally)
    return None


def _add_tally(result: MergeResult, tally: MergeResult) -> None:
    """Count a merged segment's own tally into its bundle's result."""
    result.new += tally.new
    result.updated += tally.updated
    result.unchanged += tally.unchanged
    for origin, (count, newest) in tally.held_aside.items():
        before, latest = result.held_aside.get(origin, (0, 0))
        result.held_aside[origin] = (before + count, max(latest, newest))


def _refuse_segment(conn: sqlite3.Connection, result: MergeResult, refusal: SegmentRefusal,
                    manifest_sha256: str) -> None:
    result.refused_segments.append(refusal)
    numbers.remember(conn, refusal.segment, manifest_sha256, refusal.origin, refusal.reason)


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _apply_segment(store: Store, archive: SafeArchive, segment: Segment,
                   hierarchy: trust.Hierarchy, result: MergeResult,
                   progress: Progress | None, index: IndexQueue,
                   received: bundle_files.Received) -> None:
    manifest, key = segment.manifest, segment.key
    bundle_files.check_segment(store, manifest, received)
    listed = {ref.sha256 for ref in manifest.files}
    if not key.own:
        trust.bind_device(store, key, manifest.device)
    limit = first_after(store.wall_ms())
    sets = changes = 0
    newest = 0
    for batch in _batches(_read_sets(archive, segment.payload_name)):
        rules = BatchRules(store.conn, batch, key)
        for change_set in batch:
            if change_set.device_id != manifest.device:
                raise BundleRejected("bad_change", N_("A change record in the bundle is invalid "
                                     "({what})"), what="device")
            check_shape(change_set)
            check_writer(key.unit, key.role, key.key_id, change_set, hierarchy)
            rules.check(change_set)
            bundle_files.check_set(change_set, listed)
            changes += len(change_set.fields)
        sets += len(batch)
        batch = [change_set for change_set in batch if _concerns(store, hierarchy, change_set)]
        held = check_claims(store.conn, batch)
        batch = _hold_future(store, segment, batch, result, limit)
        # A future set held already (its own laptop's, relayed back) is no news to the clock.
        newest = max([newest, *(s.hlc for s in batch if s.hlc < limit)])
        outcome = apply_sets(store.conn, batch, index)
        _tally(result, batch, held, outcome.affected, outcome.duplicate)
        if progress is not None:
            progress(sets, max(manifest.payload.sets, sets))
    if (sets, changes) != (manifest.payload.sets, manifest.payload.changes):
        raise BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                             what="payload counts")
    if newest:
        store.observe(newest, DEFAULT_MAX_DRIFT_MS)


def _hold_future(store: Store, segment: Segment, batch: list[ChangeSet],
                 result: MergeResult, limit: int) -> list[ChangeSet]:
    """The sets of `batch` to apply now; those stamped at or after `limit` (beyond the
    drift bound) are held aside (`villagebook.sync.quarantine`), counted per origin."""
    batch, future = quarantine.split_future(store.conn, batch, limit)
    if future:
        origin = segment.manifest.origin
        quarantine.hold(store.conn, segment.manifest.segment, origin, future)
        count, newest = result.held_aside.get(origin, (0, 0))
        result.held_aside[origin] = (count + len(future),
                                     max(newest, *(s.hlc for s in future)))
    return batch


def _concerns(store: Store, hierarchy: trust.Hierarchy, change_set: ChangeSet) -> bool:
    """Whether a verified change set is this node's business to hold.

    A township relays its district's segments down unmodified, so a village
    receives the district's changes for every village (a neighbour's case
    marked scored). A village keeps only records of its own unit and of the
    units above it (the district's rubric), and shared ones (model cases, there
    for every unit to adopt); the rest would show as fragments of cases it never
    had. Townships and districts keep everything they verified, since they relay
    it on.
    """
    if store.node.role is not Role.VILLAGE or ENTITIES[change_set.entity].shared:
        return True
    return hierarchy.below(store.node.unit_code, change_set.unit)


def _tally(result: MergeResult, batch: list[ChangeSet], held: set[tuple[str, str]],
           affected: dict[str, set[str]], duplicate: int) -> None:
    touched = {(c.entity, c.record_id) for c in batch}
    changed = {(entity, rid) for entity, rids in affected.items() for rid in rids}
    result.new += len((touched & changed) - held)
    result.updated += len(touched & changed & held)
    result.unchanged += duplicate


def _batches(sets: Iterator[ChangeSet]) -> Iterator[list[ChangeSet]]:
    batch: list[ChangeSet] = []
    for change_set in sets:
        batch.append(change_set)
        if len(batch) >= BATCH_SETS:
            yield batch
            batch = []
    if batch:
        yield batch


def _read_sets(archive: SafeArchive, name: str) -> Iterator[ChangeSet]:
    for line in archive.lines(name):
        if line.strip():
            yield parse_set(line)


def _bad_line(what: str) -> BundleRejected:
    return BundleRejected("bad_change", N_("A change record in the bundle is invalid ({what})"),
                          what=what)


def parse_set(line: bytes) -> ChangeSet:
    """One payload line as a change set (types checked, content not yet)."""
    data: Any = fmt.load_json(line)
    if not isinstance(data, dict):
        raise _bad_line("not an object")
    entity, record, hlc, device, unit = (data.get(k) for k in
                                         ("entity", "record", "hlc", "device", "unit"))
    fields, replaces = data.get("fields"), data.get("replaces", {})
    if not (isinstance(entity, str) and isinstance(record, str) and isinstance(device, str)
            and isinstance(unit, str) and isinstance(hlc, int) and not isinstance(hlc, bool)
            and 0 < hlc < 1 << 63 and isinstance(fields, dict) and isinstance(replaces, dict)
            and fmt.UNIT.fullmatch(unit) and fmt.DEVICE.fullmatch(device)):
        raise _bad_line("fields")
    if not all(isinstance(v, list) for v in replaces.values()):
        raise _bad_line("replaces")
    return ChangeSet(f"{hlc:016x}-{device}", entity, record, hlc, device, unit, fields,
                     replaces)


def _record_segment(conn: sqlite3.Connection, segment: Segment, stored: str) -> None:
    m = segment.manifest
    conn.execute(
        "INSERT OR IGNORE INTO sync_segment (segment_id, key_id, origin_unit, receiver, seq, "
        "created_at, received_at, changes, bundle_file, prefix, manifest_sha256) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (m.segment, m.key_id, m.origin, m.receiver, m.seq, m.created_at,
         system_now().isoformat(timespec="seconds"), m.payload.changes, stored, segment.prefix,
         segment.manifest_sha256))
    bundle_files.record(conn, m.segment, m.files)


def _record_acks(store: Store, sender: trust.TrustedKey, manifest: fmt.Manifest) -> None:
    """Remember what the sending device holds, and how far it holds our own changes."""
    conn = store.conn
    numbers.heal_own_streams(store, manifest.refused)  # before counting what it holds
    row = conn.execute("SELECT acks, acked_local_seq FROM sync_ack WHERE key_id = ?",
                       (sender.key_id,)).fetchone()
    acks: dict[str, list[list[int]]] = json.loads(row[0]) if row else {}
    for stream, ranges in manifest.acks.items():
        acks[stream] = fmt.union_ranges(acks.get(stream, []), ranges)
    acked = row[1] if row else 0
    own_stream = acks.get(f"{trust.own_key(store).key_id}>{manifest.origin}", [])
    numbers.skip_held_numbers(store, manifest.origin, own_stream)
    for seq, max_seq in conn.execute(
            "SELECT seq, max_local_seq FROM sync_sent WHERE receiver = ?", (manifest.origin,)):
        if fmt.in_ranges(seq, own_stream):
            acked = max(acked, max_seq)
    conn.execute(
        "INSERT INTO sync_ack (key_id, unit_code, acks, acked_local_seq) VALUES (?,?,?,?) "
        "ON CONFLICT(key_id) DO UPDATE SET acks = excluded.acks, "
        "acked_local_seq = excluded.acked_local_seq",
        (sender.key_id, manifest.origin, json.dumps(acks, sort_keys=True), acked))
