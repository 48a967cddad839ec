"""Evidence files in bundles: which files travel, writing them, receiving them.

A file travels as the member `files/<sha256>` of the bundle, once, whichever
segment needs it. Each segment's signed manifest lists the files its change sets
point at (`files`); the root manifest lists the file members the bundle carries
(`carries`). A receiver that holds a segment holds its files (merge refuses a
segment whose files are neither held nor carried), so acknowledgements cover
files: a file is carried only if some device of the receiver has not
acknowledged any segment that lists it. Bytes are hashed and copied 1 MB at a
time; what is received goes to flushed temporary files first and under its name
only once every file matched its signed hash, before the records commit.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from villagebook.i18n import N_
from villagebook.services.errors import Refused
from villagebook.store import files
from villagebook.store.changelog import ChangeSet
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync.archive import SafeArchive
from villagebook.sync.errors import BundleRejected

_MB = 1 << 20


# Receiving -----------------------------------------------------------------------------

@dataclass
class Received:
    """The files a bundle carries, checked against the root manifest: those not held
    yet wait in flushed temporary files (`pending`) until `commit`."""

    carried: dict[str, int]
    pending: dict[str, files.PendingBlob] = field(default_factory=dict)

    def commit(self, home: Path) -> None:
        """Move every received file under its name (before the records commit: a
        record never points at a file the home lacks)."""
        for pending in self.pending.values():
            files.commit(home, pending)
        self.pending.clear()

    def discard(self) -> None:
        """Drop the temporary files not moved into place."""
        for pending in self.pending.values():
            files.discard(pending)
        self.pending.clear()


def _mismatch(name: str) -> BundleRejected:
    return BundleRejected("hash_mismatch", N_("Member {name} does not match its hash in the "
                          "signed manifest (swapped, altered or damaged)"), name=name)


def _digest(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def receive(store: Store, archive: SafeArchive, root: fmt.Manifest, *,
            write: bool) -> Received:
    """Hash every carried file against the signed manifest; with `write`, the files
    not held yet are written to temporary files as they are hashed (one read).
    BundleRejected, and nothing left behind, if any file does not match."""
    received = Received({ref.sha256: ref.size for ref in root.carries})
    try:
        for ref in root.carries:
            chunks = archive.chunks(ref.member)
            if write and not files.has_blob(store.home, ref.sha256):
                try:
                    pending = files.write_pending(store.home, chunks, fmt.MAX_FILE_BYTES)
                except files.FileTooLarge:
                    raise _mismatch(ref.member) from None
                received.pending[ref.sha256] = pending
                found = (pending.sha256, pending.size)
            else:
                found = _digest(chunks)
            if found != (ref.sha256, ref.size):
                raise _mismatch(ref.member)
    except BaseException:
        received.discard()
        raise
    return received


def check_segment(store: Store, manifest: fmt.Manifest, received: Received) -> None:
    """Every file the segment lists is held here or carried by this bundle."""
    for ref in manifest.files:
        carried = received.carried.get(ref.sha256)
        if carried is not None and carried != ref.size:
            raise BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                                 what="files")
        if carried is None and not files.has_blob(store.home, ref.sha256):
            raise BundleRejected(
                "missing_file", N_("Segment {segment} needs file {sha256}, which the bundle "
                                   "does not carry and this node does not hold"),
                segment=manifest.segment, sha256=ref.sha256)


def check_set(change_set: ChangeSet, listed: set[str]) -> None:
    """An attachment's file is one its segment lists (so it is held once merged)."""
    sha256 = change_set.fields.get("sha256") if change_set.entity == "attachment" else None
    if isinstance(sha256, str) and sha256 not in listed:
        raise BundleRejected(
            "missing_file", N_("Attachment {record} points at file {sha256}, which its "
                               "segment does not list"),
            record=change_set.record_id, sha256=sha256)


def record(conn: sqlite3.Connection, segment_id: str, refs: Iterable[fmt.FileRef]) -> None:
    """Remember the files a held (or sent) segment lists."""
    conn.executemany(
        "INSERT OR IGNORE INTO sync_segment_file (segment_id, sha256, size) VALUES (?,?,?)",
        [(segment_id, ref.sha256, ref.size) for ref in refs])


# Sending -------------------------------------------------------------------------------

def own_files(store: Store, hashes: Iterable[str]) -> list[fmt.FileRef]:
    """The files this node's own change sets point at, with their sizes; Refused if
    one is not in this home (the bundle would be incomplete)."""
    refs = []
    for sha256 in sorted(set(hashes)):
        if not files.has_blob(store.home, sha256):
            raise Refused("File {sha256} of an attachment is missing from this home; no "
                          "bundle was written. Run: villagebook check", sha256=sha256)
        refs.append(fmt.FileRef(sha256, files.blob_path(store.home, sha256).stat().st_size))
    return refs


def relayed_files(conn: sqlite3.Connection, segments: Iterable[str]) -> list[fmt.FileRef]:
    """The files the relayed segments list (as their signed manifests did)."""
    found: dict[str, fmt.FileRef] = {}
    for segment in segments:
        for sha256, size in conn.execute(
                "SELECT sha256, size FROM sync_segment_file WHERE segment_id = ?", (segment,)):
            found.setdefault(sha256, fmt.FileRef(sha256, int(size)))
    return list(found.values())


def held_by_receiver(conn: sqlite3.Connection, sha256: str,
                     acks: list[dict[str, list[list[int]]]]) -> bool:
    """Whether every known device of the receiver acknowledged a segment listing it."""
    segments = [fmt.stream_of(row[0]) for row in conn.execute(
        "SELECT segment_id FROM sync_segment_file WHERE sha256 = ?", (sha256,))]
    return bool(segments) and all(
        any(fmt.in_ranges(number, device.get(stream, [])) for stream, number in segments)
        for device in acks)


def unheld(conn: sqlite3.Connection, refs: Iterable[fmt.FileRef],
           acks: list[dict[str, list[list[int]]]], full: bool) -> list[fmt.FileRef]:
    """The files of `refs` the receiver does not hold (all: `full`), once each, sorted."""
    unique = {ref.sha256: ref for ref in refs}
    return [unique[sha] for sha in sorted(unique)
            if full or not held_by_receiver(conn, sha, acks)]


def to_carry(conn: sqlite3.Connection, refs: Iterable[fmt.FileRef],
             acks: list[dict[str, list[list[int]]]], full: bool) -> list[fmt.FileRef]:
    """The files one bundle carries: those the receiver does not hold (all: `full`);
    Refused past the per-bundle caps, saying how to send them in parts."""
    carried = unheld(conn, refs, acks, full)
    total = sum(ref.size for ref in carried)
    if total > fmt.MAX_FILES_BYTES or len(carried) > fmt.MAX_FILES:
        raise TooManyFiles(len(carried), total)
    return carried


class TooManyFiles(Refused):
    """An export past one bundle's caps (files and their bytes): it goes in parts."""

    def __init__(self, count: int, total: int) -> None:
        super().__init__(N_("This bundle would carry {count} files of {size} MB in all, more "
                            "than one bundle may carry ({limit} MB, {most} files); no bundle "
                            "was written. Export it in parts: villagebook export --max-size "
                            "200M"),
                         count=count, size=total // _MB, limit=fmt.MAX_FILES_BYTES // _MB,
                         most=fmt.MAX_FILES)


def write_members(store: Store, zf: zipfile.ZipFile, refs: Iterable[fmt.FileRef]) -> None:
    """Copy each file into the bundle as `files/<sha256>`, stored (photos do not
    compress), hashing on the way; Refused if a held file no longer matches."""
    for ref in refs:
        info = zipfile.ZipInfo(ref.member, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        digest = hashlib.sha256()
        with files.blob_path(store.home, ref.sha256).open("rb") as source, \
                zf.open(info, "w", force_zip64=True) as target:
            for chunk in files.read_chunks(source):
                digest.update(chunk)
                target.write(chunk)
        if digest.hexdigest() != ref.sha256:
            raise Refused("File {sha256} in this home is damaged; no bundle was written. "
                          "Run: villagebook check", sha256=ref.sha256)
