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
from villagebook.store.changelog import encode
from villagebook.store.db import disk_full
from villagebook.store.node import Store, system_now
from villagebook.sync import bundle_files, numbers, sealed, trust
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
    receiver, upward = receiver_of(store, to)
    secret = load_secret_key(store.home)
    sealed_to = [] if plain else _recipients(store, receiver)
    temp: Path | None = None
    try:
        # The number is committed before the file takes its name: a crash in between
        # leaves a gap the receiver reports, never two different bundles with one number.
        with store.transaction(), sealed.scratch_file(store.home, ".zip") as inner:
            store.settle_clock()  # a clock set right: own future changes re-dated first
            peer = _peer(store, receiver)
            target = _target(store, out, receiver, peer.next_seq)
            temp = target.with_name(f".{target.name}.part")
            # Encrypted: the plaintext zip is written inside the home, never on the stick.
            zipped = inner if sealed_to else temp
            newest, sets, changes, segments = _write(store, zipped, receiver, upward,
                                                     peer.next_seq, peer, full, secret)
            if sealed_to:
                sealed.seal(inner, temp, [recipient for _, recipient in sealed_to])
            _record_sent(store, receiver, peer.next_seq, newest, target.name,
                         " ".join(key_id for key_id, _ in sealed_to))
        os.replace(temp, target)
    except OSError as error:
        if not disk_full(error):
            raise
        # The bundle goes to the stick, not the home: name the place that is full.
        raise Refused("There is no room for the bundle in {folder}; no bundle was written. "
                      "Free some space there or use another stick",
                      folder=str(_folder(store.home, out))) from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    return ExportResult(target, receiver, peer.next_seq, sets, changes, segments,
                        tuple(key_id for key_id, _ in sealed_to))


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
class _Peer:
    """What every known device of the receiving unit holds, as far as we know."""

    next_seq: int
    since: int
    acks: list[dict[str, list[list[int]]]]

    def lacks(self, stream: str, number: int) -> bool:
        """Whether some device of the receiver has not acknowledged this segment."""
        return any(not fmt.in_ranges(number, acks.get(stream, [])) for acks in self.acks)


def _peer(store: Store, receiver: str) -> _Peer:
    conn = store.conn
    row = conn.execute("SELECT next_seq FROM sync_peer WHERE unit_code = ?",
                       (receiver,)).fetchone()
    heard = {key: (json.loads(acks), int(seq)) for key, acks, seq in conn.execute(
        "SELECT key_id, acks, acked_local_seq FROM sync_ack WHERE unit_code = ?", (receiver,))}
    devices = {key for (key,) in conn.execute(
        "SELECT key_id FROM sync_key WHERE unit_code = ? AND revoked_at IS NULL", (receiver,))}
    devices |= heard.keys()
    states = [heard.get(key, ({}, 0)) for key in sorted(devices)] or [({}, 0)]
    return _Peer(int(row[0]) if row else 1, min(seq for _, seq in states),
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


def _write(store: Store, temp: Path, receiver: str, upward: bool, seq: int,
           peer: _Peer, full: bool, secret: Any) -> tuple[int, int, int, int]:
    mine = trust.own_key(store)
    hierarchy = trust.hierarchy(store)
    newest = int(store.conn.execute("SELECT coalesce(max(seq), 0) FROM change_set")
                 .fetchone()[0])
    since = 0 if full else peer.since
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(fmt.PAYLOAD, "w", force_zip64=True) as handle:
            payload = _write_own(store, handle, mine, hierarchy, receiver, upward, since)
        relayed = [_copy_segment(store, zf, row) for row in
                   _segments_to_relay(store, receiver, upward, peer, full, hierarchy)]
        own = bundle_files.own_files(store, payload.files)
        carried = bundle_files.to_carry(store.conn, [*own, *bundle_files.relayed_files(
            store.conn, [r["segment"] for r in relayed])], peer.acks, full)
        bundle_files.write_members(store, zf, carried)
        bundle_files.record(store.conn, fmt.segment_id(mine.key_id, receiver, seq), own)
        manifest = _manifest(store, mine, receiver, seq, payload, relayed)
        for key, refs in (("files", own), ("carries", carried)):
            if refs:  # optional: a bundle without files reads as before
                manifest[key] = [{"sha256": r.sha256, "size": r.size} for r in refs]
        raw = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode()
        zf.writestr(fmt.MANIFEST, raw)
        comment = fmt.trusted_comment(mine.unit, receiver, seq)
        zf.writestr(fmt.SIGNATURE, sign(secret, raw, comment,
                                        f"villagebook bundle signed by key {mine.key_id}"))
    with temp.open("rb+") as handle:
        os.fsync(handle.fileno())
    return newest, payload.sets, payload.changes, len(relayed)


def _write_own(store: Store, handle: IO[bytes], mine: trust.TrustedKey,
               hierarchy: trust.Hierarchy, receiver: str, upward: bool,
               since: int) -> _Payload:
    payload = _Payload()
    digest = hashlib.sha256()
    for line, count in _own_lines(store, mine, hierarchy, receiver, upward, since,
                                  payload.files):
        handle.write(line)
        digest.update(line)
        payload.size += len(line)
        payload.sets += 1
        payload.changes += count
    payload.sha256 = digest.hexdigest()
    return payload


def _own_lines(store: Store, mine: trust.TrustedKey, hierarchy: trust.Hierarchy,
               receiver: str, upward: bool, since: int,
               hashes: set[str]) -> Iterator[tuple[bytes, int]]:
    """This device's change sets, each cut to the fields the receiver will accept
    (the files written attachments point at are added to `hashes`).

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
        if entity == "attachment" and isinstance(fields.get("sha256"), str):
            hashes.add(fields["sha256"])
        yield (encode(line) + "\n").encode("utf-8"), len(fields)


def _segments_to_relay(store: Store, receiver: str, upward: bool, peer: _Peer, full: bool,
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
        if inside and (full or peer.lacks(stream, number)):
            chosen.append((segment, bundle_file, prefix))
    return chosen


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
