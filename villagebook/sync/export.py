"""Writing a signed bundle for a neighbour: the parent going up, a child going down.

The bundle carries this node's own change sets the receiver has not acknowledged
(all of them with `full`), the stored segments of other origins it lacks, the
keys this node vouches for, and what this node has received (its acks).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from villagebook.domain.change_rules import anchor
from villagebook.domain.clock import first_after
from villagebook.domain.fields import ENTITIES
from villagebook.services.dashboard import LAST_EXPORT_SETTING
from villagebook.services.errors import Refused
from villagebook.store import files
from villagebook.store.changelog import encode
from villagebook.store.db import disk_full
from villagebook.store.node import Store, system_now
from villagebook.sync import bundle_files, numbers, sealed, split, trust
from villagebook.sync import format as fmt
from villagebook.sync.authorise import may_write
from villagebook.sync.identity import load_secret_key
from villagebook.sync.kept import STORED_DIR
from villagebook.sync.minisign import sign

_UNSAFE_NAME = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class ExportResult:
    """A bundle written."""

    path: Path
    receiver: str
    seq: int
    sets: int
    changes: int
    segments: int
    #: Key ids of the receiver's devices the bundle was encrypted to; () if plain.
    encrypted_to: tuple[str, ...] = ()
    #: Of a split export: this part's place (1-based) and how many parts there are.
    part: int = 1
    parts: int = 1


@dataclass
class _Payload:
    size: int = 0
    sets: int = 0
    changes: int = 0
    sha256: str = ""
    #: The files the written change sets point at (attachments' SHA-256).
    files: set[str] = field(default_factory=set)


def receiver_of(store: Store, to: str | None) -> tuple[str, bool]:
    """The receiver's unit and whether it is this node's parent (going up)."""
    node = store.node
    parent = trust.own_parent(store.conn, node.unit_code)
    receiver = (to or parent or "").strip()
    if not receiver:
        raise Refused("This node has no parent unit; name the receiver with --to")
    if receiver == parent:
        return receiver, True
    if receiver == node.unit_code:
        # Another laptop of this unit: it gets what a unit below would (docs/SYNC.md,
        # "Laptops of one unit"), so what this device wrote and what reached it.
        if not trust.recipients_of(store, receiver):
            raise Refused("No other device of unit {unit} is trusted here: compare "
                          "fingerprints and trust its public key file (villagebook keys "
                          "trust FILE --unit {unit})", unit=receiver)
        return receiver, False
    below = trust.hierarchy(store).parent(receiver) == node.unit_code or \
        trust.own_parent(store.conn, receiver) == node.unit_code
    if not below:
        raise Refused("Unit {unit} is neither this node's parent, nor its own unit, nor a "
                      "unit under it", unit=receiver)
    return receiver, False


def export_bundle(store: Store, to: str | None = None, out: Path | None = None,
                  *, full: bool = False, plain: bool = False) -> ExportResult:
    """Write a signed bundle for `to` (default: the parent) into `out` (a folder or file),
    encrypted to the receiver's devices unless `plain` (docs/SYNC.md, "Encryption")."""
    return _export(store, to, out, full=full, plain=plain, max_size=None)[0]


def export_parts(store: Store, to: str | None = None, out: Path | None = None, *,
                 full: bool = False, plain: bool = False,
                 max_size: int) -> list[ExportResult]:
    """Write what `export_bundle` would, as numbered bundles of at most `max_size` bytes
    each, every one complete and mergeable alone in any order (`villagebook.sync.split`)."""
    if out is not None and out.suffix == fmt.SUFFIX:
        raise Refused("A split export needs a folder for its parts, not a file name: "
                      "--out {path}", path=str(out))
    return _export(store, to, out, full=full, plain=plain, max_size=max_size)


def _export(store: Store, to: str | None, out: Path | None, *, full: bool, plain: bool,
            max_size: int | None) -> list[ExportResult]:
    receiver, upward = receiver_of(store, to)
    secret = load_secret_key(store.home)
    sealed_to = [] if plain else _recipients(store, receiver)
    keys = tuple(key_id for key_id, _ in sealed_to)
    temps: list[tuple[Path, Path]] = []
    results = []
    try:
        # The numbers are committed before the files take their names: a crash in
        # between leaves a gap the receiver reports, never two bundles with one number.
        with store.transaction():
            store.settle_clock()  # a clock set right: own future changes re-dated first
            peer = peer_state(store, receiver)
            job = _Job(store, receiver, upward, peer, full, secret)
            picks: list[split.Part | None] = [None]
            if max_size is not None:
                picks = [*job.plan(max_size)]
            for number, pick in enumerate(picks):
                seq = peer.next_seq + number
                target = _target(store, out, receiver, seq)
                temps.append((target.with_name(f".{target.name}.part"), target))
                newest, counts = _write_sealed(job, temps[-1][0], seq, pick, sealed_to)
                if max_size is not None and temps[-1][0].stat().st_size > max_size:
                    raise split.part_too_large(temps[-1][0].stat().st_size, max_size)
                # A part's change sets are not all its predecessors': only a whole
                # export moves the mark of what the receiver holds (acked_local_seq).
                mark = newest if len(picks) == 1 else min(newest, peer.since)
                _record_sent(store, receiver, seq, mark, target.name, " ".join(keys))
                results.append(ExportResult(target, receiver, seq, *counts, keys,
                                            number + 1, len(picks)))
        for temp, target in temps:
            os.replace(temp, target)
    except OSError as error:
        if not disk_full(error):
            raise
        # The bundle goes to the stick, not the home: name the place that is full.
        raise Refused("There is no room for the bundle in {folder}; no bundle was written. "
                      "Free some space there or use another stick",
                      folder=str(_folder(store.home, out))) from None
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
    return results


def _write_sealed(job: _Job, temp: Path, seq: int, pick: split.Part | None,
                  sealed_to: list[tuple[str, str]]) -> tuple[int, tuple[int, int, int]]:
    """Write one bundle into `temp`; encrypted, its plaintext zip is written inside
    the home, never on the stick."""
    with sealed.scratch_file(job.store.home, ".zip") as inner:
        # The plaintext scratch copy is read once and removed: only what goes to the
        # stick is flushed to disk (by `seal`, or here when plain).
        newest, sets, changes, segments = _write(job, inner if sealed_to else temp, seq, pick,
                                                 durable=not sealed_to)
        if sealed_to:
            sealed.seal(inner, temp, [recipient for _, recipient in sealed_to])
    return newest, (sets, changes, segments)


def _recipients(store: Store, receiver: str) -> list[tuple[str, str]]:
    """Every trusted, unrevoked device of the receiver with its recipient; Refused, with
    what to do, if any of them has none known here."""
    found = trust.recipients_of(store, receiver)
    lacking = [key_id for key_id, recipient in found if recipient is None]
    if not found:
        raise Refused("No device of unit {unit} is trusted here, so the bundle cannot be "
                      "encrypted to it: trust its public key file (villagebook keys trust FILE "
                      "--unit {unit}), or, for an office on an older version, export with "
                      "--plain", unit=receiver)
    if lacking:
        raise Refused("No encryption key is known here for device key {key} of unit {unit}: "
                      "trust its current public key file again (villagebook keys trust FILE "
                      "--unit {unit}), or, for an office on an older version, export with "
                      "--plain", unit=receiver, key=lacking[0])
    return [(key_id, recipient) for key_id, recipient in found if recipient is not None]


def _record_sent(store: Store, receiver: str, seq: int, newest: int, name: str,
                 encrypted_to: str) -> None:
    conn, now = store.conn, system_now().isoformat(timespec="seconds")
    conn.execute("INSERT INTO sync_peer (unit_code, next_seq) VALUES (?, ?) "
                 "ON CONFLICT(unit_code) DO UPDATE SET next_seq = excluded.next_seq",
                 (receiver, seq + 1))
    conn.execute("INSERT INTO sync_sent (receiver, seq, max_local_seq, created_at, "
                 "file_name, encrypted_to) VALUES (?, ?, ?, ?, ?, ?)",
                 (receiver, seq, newest, now, name, encrypted_to))
    store.put_setting(LAST_EXPORT_SETTING, now)  # "changes not yet sent" count from here


@dataclass
class PeerState:
    """What every known device of the receiving unit holds, as far as we know."""

    next_seq: int
    since: int
    acks: list[dict[str, list[list[int]]]]

    def lacks(self, stream: str, number: int) -> bool:
        """Whether some device of the receiver has not acknowledged this segment."""
        return any(not fmt.in_ranges(number, acks.get(stream, [])) for acks in self.acks)


def peer_state(store: Store, receiver: str) -> PeerState:
    """What this node knows the devices of unit `receiver` hold (their acks)."""
    conn = store.conn
    row = conn.execute("SELECT next_seq FROM sync_peer WHERE unit_code = ?",
                       (receiver,)).fetchone()
    heard = {key: (json.loads(acks), int(seq)) for key, acks, seq in conn.execute(
        "SELECT key_id, acks, acked_local_seq FROM sync_ack WHERE unit_code = ?", (receiver,))}
    devices = {key for (key,) in conn.execute(
        "SELECT key_id FROM sync_key WHERE unit_code = ? AND revoked_at IS NULL", (receiver,))}
    devices |= heard.keys()
    states = [heard.get(key, ({}, 0)) for key in sorted(devices)] or [({}, 0)]
    return PeerState(int(row[0]) if row else 1, min(seq for _, seq in states),
                 [acks for acks, _ in states])


def _unit_name(store: Store, code: str) -> str:
    row = store.conn.execute("SELECT name FROM unit WHERE code = ?", (code,)).fetchone()
    name = _UNSAFE_NAME.sub("_", str(row[0])).strip("._") if row and row[0] else ""
    return name[:40] or code


def _folder(home: Path, out: Path | None) -> Path:
    """The folder a bundle is written to: `out`, the folder of an `out` file
    (`….vbundle`), or HOME/outbox."""
    if out is None:
        return home / "outbox"
    return out.parent if out.suffix == fmt.SUFFIX else out


def _target(store: Store, out: Path | None, receiver: str, seq: int) -> Path:
    folder = _folder(store.home, out)
    folder.mkdir(parents=True, exist_ok=True)
    if out is not None and out.suffix == fmt.SUFFIX:
        return out
    sender = _unit_name(store, store.node.unit_code)
    return folder / f"{sender}-{_unit_name(store, receiver)}-{seq:04d}{fmt.SUFFIX}"


@dataclass
class _Job:
    """One export: its receiver, what the receiver holds, the signing key."""

    store: Store
    receiver: str
    upward: bool
    peer: PeerState
    full: bool
    secret: Any

    def __post_init__(self) -> None:
        self.mine = trust.own_key(self.store)
        self.hierarchy = trust.hierarchy(self.store)
        self.since = 0 if self.full else self.peer.since

    def lines(self) -> Iterator[tuple[bytes, int, str | None]]:
        """This device's change sets for the receiver, in local order."""
        return _own_lines(self.store, self.mine, self.hierarchy, self.receiver,
                          self.upward, self.since)

    def relayed(self) -> list[tuple[str, str, str]]:
        """The stored segments of other origins the receiver lacks."""
        return _segments_to_relay(self.store, self.receiver, self.upward, self.peer,
                                  self.full, self.hierarchy)

    def plan(self, limit: int) -> list[split.Part]:
        """The parts of a split export (sizes only; nothing written)."""
        conn = self.store.conn
        lines = [split.Line(index, len(line), sha256)
                 for index, (line, _, sha256) in enumerate(self.lines())]
        own = bundle_files.own_files(self.store, [x.sha256 for x in lines if x.sha256])
        segments = [split.Segment(row, _segment_size(self.store, row),
                                  tuple(bundle_files.relayed_files(conn, [row[0]])))
                    for row in self.relayed()]
        refs = [*own, *(ref for segment in segments for ref in segment.files)]
        carry = {ref.sha256 for ref in bundle_files.unheld(conn, refs, self.peer.acks,
                                                           self.full)}
        return split.plan(limit, lines, segments, carry, {r.sha256: r.size for r in own})


def _segment_size(store: Store, row: tuple[str, str, str]) -> int:
    _, bundle_file, prefix = row
    with zipfile.ZipFile(store.home / STORED_DIR / bundle_file) as source:
        return sum(source.getinfo(prefix + name).file_size
                   for name in (fmt.MANIFEST, fmt.SIGNATURE, fmt.PAYLOAD))


def _write(job: _Job, temp: Path, seq: int, pick: split.Part | None, *,
           durable: bool) -> tuple[int, int, int, int]:
    """Write the bundle `seq` into `temp` (flushed to disk if `durable`): everything
    for the receiver, or the part `pick` of a split export."""
    store, mine = job.store, job.mine
    newest = int(store.conn.execute("SELECT coalesce(max(seq), 0) FROM change_set")
                 .fetchone()[0])
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(fmt.PAYLOAD, "w", force_zip64=True) as handle:
            payload = _write_own(job.lines(), handle, None if pick is None else pick.lines)
        relayed = [_copy_segment(store, zf, row) for row in
                   (job.relayed() if pick is None else pick.relayed)]
        own = bundle_files.own_files(store, payload.files)
        if pick is None:
            carried = bundle_files.to_carry(store.conn, [*own, *bundle_files.relayed_files(
                store.conn, [r["segment"] for r in relayed])], job.peer.acks, job.full)
        else:
            carried = [pick.carries[sha256] for sha256 in sorted(pick.carries)]
        bundle_files.write_members(store, zf, carried)
        bundle_files.record(store.conn, fmt.segment_id(mine.key_id, job.receiver, seq), own)
        manifest = _manifest(store, mine, job.receiver, seq, payload, relayed)
        for key, refs in (("files", own), ("carries", carried)):
            if refs:  # optional: a bundle without files reads as before
                manifest[key] = [{"sha256": r.sha256, "size": r.size} for r in refs]
        raw = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode()
        zf.writestr(fmt.MANIFEST, raw)
        comment = fmt.trusted_comment(mine.unit, job.receiver, seq)
        zf.writestr(fmt.SIGNATURE, sign(job.secret, raw, comment,
                                        f"villagebook bundle signed by key {mine.key_id}"))
    if durable:
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
    return newest, payload.sets, payload.changes, len(relayed)


def _write_own(lines: Iterator[tuple[bytes, int, str | None]], handle: IO[bytes],
               chosen: set[int] | None) -> _Payload:
    """Write the change sets (those at the positions `chosen`, or all) into the payload."""
    payload = _Payload()
    digest = hashlib.sha256()
    for index, (line, count, sha256) in enumerate(lines):
        if chosen is not None and index not in chosen:
            continue
        handle.write(line)
        digest.update(line)
        payload.size += len(line)
        payload.sets += 1
        payload.changes += count
        if sha256 is not None:
            payload.files.add(sha256)
    payload.sha256 = digest.hexdigest()
    return payload


def _own_lines(store: Store, mine: trust.TrustedKey, hierarchy: trust.Hierarchy,
               receiver: str, upward: bool,
               since: int) -> Iterator[tuple[bytes, int, str | None]]:
    """This device's change sets, each cut to the fields the receiver will accept,
    with its count of fields and the file it points at (a written attachment's).

    Sets stamped beyond the drift bound of this laptop's clock are left out: the
    clock was set right since, and `Store.settle_clock` re-dated them as new sets.
    """
    rows = store.conn.execute(
        "SELECT entity, record_id, hlc, unit, fields, replaces FROM change_set "
        "WHERE device_id = ? AND seq > ? AND hlc < ? ORDER BY seq",
        (mine.device_id, since, first_after(store.wall_ms())))
    for entity, record_id, hlc, unit, fields_text, replaces_text in rows:
        if not upward and not (ENTITIES[entity].shared or hierarchy.below(unit, receiver)
                               or hierarchy.below(mine.unit, unit)):
            continue
        written = json.loads(fields_text)
        fields = {name: value for name, value in written.items()
                  if may_write(mine.unit, mine.role, entity, name, value, unit, hierarchy)}
        first = anchor(ENTITIES[entity]) if entity in ENTITIES else ""
        if not fields or (first in written and first not in fields):
            # e.g. demo records made here for other units: they stay on this node, all of
            # them (a status alone would name no status it follows, and be refused).
            continue
        replaces = {k: v for k, v in json.loads(replaces_text).items() if k in fields}
        line = {"entity": entity, "record": record_id, "hlc": hlc, "device": mine.device_id,
                "unit": unit, "fields": fields}
        if replaces:
            line["replaces"] = replaces
        sha256 = fields.get("sha256") if entity == "attachment" else None
        if isinstance(sha256, str) and _pruned(store, record_id, sha256):
            continue  # a removed attachment every neighbour held (check --prune)
        yield ((encode(line) + "\n").encode("utf-8"), len(fields),
               sha256 if isinstance(sha256, str) else None)


def _segments_to_relay(store: Store, receiver: str, upward: bool, peer: PeerState, full: bool,
                       hierarchy: trust.Hierarchy) -> list[tuple[str, str, str]]:
    node = store.node
    # Only segments of keys the receiver can come to trust: a device nobody of its
    # unit handed over would make the receiver refuse the whole bundle.
    vouched = trust.vouchable_keys(store)
    rows = store.conn.execute(
        "SELECT s.segment_id, s.key_id, s.origin_unit, s.bundle_file, s.prefix "
        "FROM sync_segment s ORDER BY s.segment_id")
    chosen = []
    for segment, key_id, origin, bundle_file, prefix in rows:
        if key_id not in vouched:
            continue
        # Up: everything from below us. Down: what came from above us, and what other
        # devices of the receiver's own unit (or units under it) wrote.
        inside = hierarchy.below(origin, node.unit_code) if upward else (
            (origin != node.unit_code and hierarchy.below(node.unit_code, origin))
            or hierarchy.below(origin, receiver))
        stream, number = fmt.stream_of(segment)
        if inside and (full or peer.lacks(stream, number)) and not (
                full and _lacks_files(store, segment)):
            chosen.append((segment, bundle_file, prefix))
    return chosen


def _pruned(store: Store, record_id: str, sha256: str) -> bool:
    """Whether an attachment's file went in a prune: not held, and the attachment
    removed here (a live one's missing file is refused by `own_files`)."""
    return not files.has_blob(store.home, sha256) and store.conn.execute(
        "SELECT 1 FROM attachment WHERE id = ?", (record_id,)).fetchone() is None


def _lacks_files(store: Store, segment: str) -> bool:
    """Whether a held segment lists a file pruned here since (every neighbour held it:
    only `--full` would send it again)."""
    return any(not files.has_blob(store.home, sha256) for (sha256,) in store.conn.execute(
        "SELECT sha256 FROM sync_segment_file WHERE segment_id = ?", (segment,)))


def _copy_segment(store: Store, zf: zipfile.ZipFile,
                  row: tuple[str, str, str]) -> dict[str, str]:
    segment, bundle_file, prefix = row
    listed = {"segment": segment}
    with zipfile.ZipFile(store.home / STORED_DIR / bundle_file) as source:
        for name, key in ((fmt.MANIFEST, "manifest_sha256"), (fmt.SIGNATURE, "signature_sha256"),
                          (fmt.PAYLOAD, "payload_sha256")):
            digest = hashlib.sha256()
            with source.open(prefix + name) as src, \
                    zf.open(f"{fmt.SEGMENT_DIR}{segment}/{name}", "w", force_zip64=True) as dst:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
            listed[key] = digest.hexdigest()
    return listed


def _manifest(store: Store, mine: trust.TrustedKey, receiver: str, seq: int,
              payload: _Payload, relayed: list[dict[str, str]]) -> dict[str, Any]:
    manifest = {
        "format": fmt.FORMAT,
        "version": fmt.VERSION,
        "origin": {"unit": mine.unit, "role": mine.role, "key_id": mine.key_id,
                   "device": mine.device_id, **({"recipient": mine.recipient}
                                                if mine.recipient else {})},
        "receiver": receiver,
        "seq": seq,
        "created_at": system_now().isoformat(timespec="seconds"),
        "created_hlc": store.tick(),
        "payload": {"name": fmt.PAYLOAD, "size": payload.size, "sha256": payload.sha256,
                    "sets": payload.sets, "changes": payload.changes},
        "relayed": relayed,
        "enrolments": [_enrolment(e) for e in trust.enrolments_for(store, receiver)],
        "revocations": trust.revocations_for(store),
        "acks": held_streams(store.conn, mine.key_id),
    }
    refused = numbers.refusals_for(store.conn, receiver)
    if refused:  # optional (older readers ignore it): its bundles the receiver must resend
        manifest["refused"] = refused
    return manifest


def _enrolment(enrolment: fmt.Enrolment) -> dict[str, str | None]:
    listed = {"key": enrolment.key, "unit": enrolment.unit, "parent": enrolment.parent,
              "role": enrolment.role}
    if enrolment.handover is not None:
        listed["handover"] = enrolment.handover
    if enrolment.recipient is not None:
        listed["recipient"] = enrolment.recipient
    return listed


def held_streams(conn: sqlite3.Connection, own_key_id: str) -> dict[str, list[list[int]]]:
    """Every segment stream this node holds, as ranges of numbers (its acks).

    Its own bundles count as held: nobody needs to relay them back to it; so do
    segments it refused: their carriers stop relaying them.
    """
    streams = numbers.refused_streams(conn)
    for key_id, receiver, seq in conn.execute(
            "SELECT key_id, receiver, seq FROM sync_segment ORDER BY key_id, receiver, seq"):
        streams.setdefault(f"{key_id}>{receiver}", []).append(seq)
    for receiver, seq in conn.execute("SELECT receiver, seq FROM sync_sent"):
        streams.setdefault(f"{own_key_id}>{receiver}", []).append(seq)
    return {stream: fmt.to_ranges(numbers) for stream, numbers in streams.items()}
