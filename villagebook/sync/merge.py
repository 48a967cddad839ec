"""Merging bundles: verify everything, then apply each bundle in one transaction.

A rejected bundle changes nothing (its transaction rolls back); the others
still merge. Change sets are read line by line and applied in batches inside
the bundle's transaction, so memory stays bounded however large the bundle,
and a failure on the last line still undoes the first.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from villagebook.domain.clock import DEFAULT_MAX_DRIFT_MS, ClockDriftError, physical
from villagebook.domain.enums import Role
from villagebook.i18n import N_
from villagebook.services.errors import Refused
from villagebook.store.changelog import ChangeSet, IndexQueue, MalformedChange, apply_sets
from villagebook.store.db import disk_full
from villagebook.store.node import Store, system_now
from villagebook.sync import format as fmt
from villagebook.sync import trust
from villagebook.sync.archive import SafeArchive
from villagebook.sync.authorise import check_claims, check_shape, check_writer
from villagebook.sync.errors import BundleRejected
from villagebook.sync.rules_check import BatchRules
from villagebook.sync.verify import Segment, check_members, relayed_segment, verified_manifest

BATCH_SETS = 2000
STORED_DIR = "bundles"
#: Called after each batch: change sets done so far in a segment, and the segment's total.
Progress = Callable[[int, int], None]


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

    @property
    def reason(self) -> str:
        """The stable code of the rejection, or ''."""
        return getattr(self.error, "reason", "rejected") if self.error else ""


class _DryRun(Exception):
    """Raised at the end of a verify-only run to roll its transaction back."""


class _AlreadyMerged(Exception):
    """Raised when every segment of a bundle is held: nothing to write."""


def merge_files(store: Store, paths: list[Path], *, dry_run: bool = False,
                progress: Progress | None = None) -> list[MergeResult]:
    """Merge (or, with `dry_run`, only verify) each bundle in its own transaction."""
    return [merge_file(store, path, dry_run=dry_run, progress=progress) for path in paths]


def merge_file(store: Store, path: Path, *, dry_run: bool = False,
               progress: Progress | None = None) -> MergeResult:
    """Verify then merge one bundle; never raises for bad input (see `.error`)."""
    result = MergeResult(path)
    try:
        with SafeArchive(path) as archive:
            _merge(store, archive, result, dry_run, progress)
    except _DryRun:
        result.status = "verified"
    except _AlreadyMerged:
        result.status = "already"
    except ClockDriftError as error:
        result.status, result.error = "rejected", BundleRejected(
            "clock", N_("A timestamp lies {days:.0f} days in the future; check this laptop's "
            "clock or the sender's"), days=error.ahead_days)
    except MalformedChange:
        result.status, result.error = "rejected", BundleRejected(
            "bad_change", N_("A change record in the bundle is invalid ({what})"),
            what="change set differs from the one held")
    except Refused as error:
        result.status, result.error = "rejected", error
    except OSError as error:
        # Our own disk (full, over quota, read-only) is not this bundle's fault, even
        # when the failed call names the bundle (a sendfile copy of it, on Linux).
        if disk_full(error) or error.errno == errno.EROFS or \
                error.filename not in (str(path), path):
            raise
        result.status, result.error = "rejected", BundleRejected(
            "unreadable", N_("Cannot read {path}"), path=str(path))
    return result


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
    with store.transaction(bulk=True) as conn:
        for key_id in manifest.revocations:
            trust.accept_revocation(store, root.key, key_id)
        for enrolment in manifest.enrolments:
            trust.accept_enrolment(store, root.key, enrolment)
        segments = [root, *(relayed_segment(store, archive, r) for r in manifest.relayed)]
        result.segments = len(segments)
        result.origins = sorted({s.manifest.origin for s in segments})
        fresh = [s for s in segments if not _held(conn, s.manifest.segment)]
        if not fresh:  # the same bundle again: roll back even its (identical) enrolments
            raise _AlreadyMerged
        _record_acks(store, root.key, manifest)
        conflicts_before = _count(conn, "conflict")
        hierarchy = trust.hierarchy(store)
        stored = "" if dry_run else _keep_copy(store, archive.path)
        index = IndexQueue(conn)
        for segment in fresh:
            _apply_segment(store, archive, segment, hierarchy, result, progress, index)
            _record_segment(conn, segment, stored)
        if not dry_run:
            index.flush()
        result.conflicts = max(0, _count(conn, "conflict") - conflicts_before)
        if dry_run:
            raise _DryRun


def _held(conn: sqlite3.Connection, segment: str) -> bool:
    return conn.execute("SELECT 1 FROM sync_segment WHERE segment_id = ?",
                        (segment,)).fetchone() is not None


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _apply_segment(store: Store, archive: SafeArchive, segment: Segment,
                   hierarchy: trust.Hierarchy, result: MergeResult,
                   progress: Progress | None, index: IndexQueue) -> None:
    manifest, key = segment.manifest, segment.key
    if not key.own:
        trust.bind_device(store, key, manifest.device)
    limit = store.wall_ms() + DEFAULT_MAX_DRIFT_MS
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
            if physical(change_set.hlc) > limit:
                raise ClockDriftError(change_set.hlc, store.wall_ms())
            newest = max(newest, change_set.hlc)
            changes += len(change_set.fields)
        sets += len(batch)
        batch = [change_set for change_set in batch if _concerns(store, hierarchy, change_set)]
        held = check_claims(store.conn, batch)
        outcome = apply_sets(store.conn, batch, index)
        _tally(result, batch, held, outcome.affected, outcome.duplicate)
        if progress is not None:
            progress(sets, max(manifest.payload.sets, sets))
    if (sets, changes) != (manifest.payload.sets, manifest.payload.changes):
        raise BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                             what="payload counts")
    if newest:
        store.observe(newest, DEFAULT_MAX_DRIFT_MS)


def _concerns(store: Store, hierarchy: trust.Hierarchy, change_set: ChangeSet) -> bool:
    """Whether a verified change set is this node's business to hold.

    A township relays its district's segments down unmodified, so a village
    receives the district's changes for every village (a neighbour's case
    marked scored). A village keeps only records of its own unit and of the
    units above it (the district's rubric and model cases); the rest would
    show as fragments of cases it never had. Townships and districts keep
    everything they verified, since they relay it on.
    """
    if store.node.role is not Role.VILLAGE:
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
            and fmt.UNIT.match(unit) and fmt.DEVICE.match(device)):
        raise _bad_line("fields")
    if not all(isinstance(v, list) for v in replaces.values()):
        raise _bad_line("replaces")
    return ChangeSet(f"{hlc:016x}-{device}", entity, record, hlc, device, unit, fields,
                     replaces)


def _record_segment(conn: sqlite3.Connection, segment: Segment, stored: str) -> None:
    m = segment.manifest
    conn.execute(
        "INSERT OR IGNORE INTO sync_segment (segment_id, key_id, origin_unit, receiver, seq, "
        "created_at, received_at, changes, bundle_file, prefix) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (m.segment, m.key_id, m.origin, m.receiver, m.seq, m.created_at,
         system_now().isoformat(timespec="seconds"), m.payload.changes, stored, segment.prefix))


def _record_acks(store: Store, sender: trust.TrustedKey, manifest: fmt.Manifest) -> None:
    """Remember what the sending device holds, and how far it holds our own changes."""
    conn = store.conn
    row = conn.execute("SELECT acks, acked_local_seq FROM sync_ack WHERE key_id = ?",
                       (sender.key_id,)).fetchone()
    acks: dict[str, list[list[int]]] = json.loads(row[0]) if row else {}
    for stream, ranges in manifest.acks.items():
        acks[stream] = fmt.union_ranges(acks.get(stream, []), ranges)
    acked = row[1] if row else 0
    own_stream = acks.get(f"{trust.own_key(store).key_id}>{manifest.origin}", [])
    for seq, max_seq in conn.execute(
            "SELECT seq, max_local_seq FROM sync_sent WHERE receiver = ?", (manifest.origin,)):
        if fmt.in_ranges(seq, own_stream):
            acked = max(acked, max_seq)
    conn.execute(
        "INSERT INTO sync_ack (key_id, unit_code, acks, acked_local_seq) VALUES (?,?,?,?) "
        "ON CONFLICT(key_id) DO UPDATE SET acks = excluded.acks, "
        "acked_local_seq = excluded.acked_local_seq",
        (sender.key_id, manifest.origin, json.dumps(acks, sort_keys=True), acked))


def _keep_copy(store: Store, path: Path) -> str:
    """Keep the bundle's bytes in the home, durably, to relay its segments later."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    folder = store.home / STORED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{digest.hexdigest()}{fmt.SUFFIX}"
    target = folder / name
    if not target.exists():
        temp = folder / f".{name}.part"
        try:
            shutil.copyfile(path, temp)
            with temp.open("rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)  # no half copy left on a disk that may be full
            raise
    return name
