"""The home's file store: evidence bytes, stored once each, named by their SHA-256.

A file lives at `HOME/files/<first 2 hex>/<64 hex>`; nothing else names it, so the
same photo attached twice (or received twice) is stored once, and a name can never
be a path chosen by a user or a peer. Every write goes to a temporary file in
`HOME/files/tmp`, is hashed and copied in chunks, flushed to disk (fsync), then
moved into place with `os.replace`: a power cut leaves either the whole file under
its name or nothing there (at worst a stray temporary file, removed on the next write).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FILES_DIR = "files"
_TEMP_DIR = "tmp"
CHUNK = 1 << 20
_STALE_SECONDS = 24 * 3600
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FileTooLarge(Exception):
    """The bytes went past the limit they were written under."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


def is_sha256(text: str) -> bool:
    """Whether `text` is a lower-case SHA-256 in hex (the only names the store uses)."""
    return bool(_SHA256.match(text))


def files_path(home: Path) -> Path:
    """The folder of the file store inside `home`."""
    return home / FILES_DIR


def blob_path(home: Path, sha256: str) -> Path:
    """Where the file with this hash lives (whether or not it is there)."""
    if not is_sha256(sha256):
        raise ValueError("not a SHA-256")
    return files_path(home) / sha256[:2] / sha256


def has_blob(home: Path, sha256: str) -> bool:
    """Whether the store holds a file under this hash (not whether it matches it)."""
    return is_sha256(sha256) and blob_path(home, sha256).is_file()


@dataclass(frozen=True)
class PendingBlob:
    """Bytes written and flushed to a temporary file, not yet under their name."""

    temp: Path
    sha256: str
    size: int


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder to flush it; NTFS journals renames
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _sweep(temp_dir: Path) -> None:
    """Remove temporary files a crash left behind (a day old: none still being written)."""
    stale = time.time() - _STALE_SECONDS
    for leftover in temp_dir.glob("incoming-*"):
        try:
            if leftover.stat().st_mtime < stale:
                leftover.unlink()
        except OSError:
            continue  # another process removed or holds it: not ours to fight over


def write_pending(home: Path, chunks: Iterator[bytes], limit: int) -> PendingBlob:
    """Write `chunks` to a flushed temporary file, hashing as it goes; FileTooLarge
    (and no file left) past `limit` bytes."""
    temp_dir = files_path(home) / _TEMP_DIR
    temp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _sweep(temp_dir)
    handle, name = tempfile.mkstemp(dir=temp_dir, prefix="incoming-")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(limit)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return PendingBlob(Path(name), digest.hexdigest(), size)


def read_chunks(source: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """The bytes of an open file, `size` at a time."""
    while chunk := source.read(size):
        yield chunk


def commit(home: Path, pending: PendingBlob) -> Path:
    """Move a pending file under its hash (atomically); returns its path. A file
    already held under that hash is kept and the pending copy dropped."""
    target = blob_path(home, pending.sha256)
    if target.is_file() and target.stat().st_size == pending.size:
        pending.temp.unlink(missing_ok=True)
        return target
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(pending.temp, target)
    _fsync_dir(target.parent)
    return target


def discard(pending: PendingBlob) -> None:
    """Drop a pending file that will not be kept."""
    pending.temp.unlink(missing_ok=True)


def hash_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in read_chunks(source):
            digest.update(chunk)
    return digest.hexdigest()


def blob_state(home: Path, sha256: str) -> str:
    """`ok`, `missing` (no file under that hash) or `mismatch` (its bytes hash otherwise)."""
    if not has_blob(home, sha256):
        return "missing"
    return "ok" if hash_of(blob_path(home, sha256)) == sha256 else "mismatch"


def copy_out(home: Path, sha256: str, target: Path) -> bool:
    """Copy a held file to `target` (atomically, checking its hash on the way);
    False, and nothing written, if the held bytes do not match their hash."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".villagebook-")
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out, blob_path(home, sha256).open("rb") as source:
            for chunk in read_chunks(source):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            Path(name).unlink(missing_ok=True)
            return False
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return True
