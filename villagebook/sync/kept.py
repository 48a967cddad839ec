"""The copies of merged bundles a node keeps in `HOME/bundles/`, to relay their
segments later, byte for byte.

A bundle without files is kept whole, named by its bytes' SHA-256; one with files
keeps its segments only (the file store already holds the files), named by its
root manifest's hash. Either copy is written durably before the merge commits: to a
temporary name, fsynced, then renamed, so a crash or a full disk never leaves half
a copy that a later relay would trust.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from villagebook.store import durable
from villagebook.sync import format as fmt
from villagebook.sync.archive import SafeArchive

STORED_DIR = "bundles"


def keep(home: Path, archive: SafeArchive, manifest_sha256: str, *, with_files: bool) -> str:
    """Keep a merged bundle for relaying; the kept file's name under `HOME/bundles/`."""
    folder = home / STORED_DIR
    if with_files:
        return _durably(folder, f"{manifest_sha256}{fmt.SUFFIX}",
                        lambda temp: _write_segments(archive, temp))
    return _durably(folder, f"{_sha256_of(archive.path)}{fmt.SUFFIX}",
                    lambda temp: shutil.copyfile(archive.path, temp))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_segments(archive: SafeArchive, temp: Path) -> None:
    """Every member of the archive but its files, streamed into a new zip."""
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for member in sorted(archive.members):
            if not member.startswith(fmt.FILE_DIR):
                with zf.open(member, "w", force_zip64=True) as out:
                    for chunk in archive.chunks(member):
                        out.write(chunk)


def _durably(folder: Path, name: str, write: Callable[[Path], object]) -> str:
    """Write `folder/name` through `write(temporary path)` unless it is there already:
    fsynced, then renamed into place; no half copy is left behind on any failure."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists():
        return name
    durable.write_atomically(target, write)
    return name
