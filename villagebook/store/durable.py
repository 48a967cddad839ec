"""Durable writes of whole files: complete or absent, even after a power cut.

One helper for every file VillageBook writes outside its database (reports, kept
bundles, keys): a temporary name in the target's own folder (so the rename never
crosses a disk), written, flushed to the disk (fsync), renamed into place with
`os.replace`, then the folder's entry fsynced too. On any failure the temporary
file is removed, so a full disk leaves no half copy behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make a new or renamed directory entry survive a power cut (best effort)."""
    if os.name == "nt":  # Windows cannot open folders; NTFS's journal covers this
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        # Some filesystems (FUSE, network mounts) refuse to fsync a folder: the file is
        # complete and in place already, and failing now would only mislead the caller.
        pass


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to the disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def temporary_beside(target: Path) -> Path:
    """A new, empty, uniquely named hidden file in `target`'s folder."""
    folder = target.parent if str(target.parent) else Path(".")
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    os.close(handle)
    return Path(name)


def write_atomically(target: Path, write: Callable[[Path], object],
                     replace: Callable[[Path, Path], None] = os.replace) -> None:
    """Write `target` through `write(temporary path)`: fsynced, renamed over `target` by
    `replace`, the folder fsynced; on any failure nothing is left but what was there
    before."""
    temp = temporary_beside(target)
    try:
        write(temp)
        fsync_file(temp)
        replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent if str(target.parent) else Path("."))
