"""Read-only copies of attachments made for the system viewer, inside the home.

Each copy gets its own folder `HOME/viewing/<random>/attachment-<id>.<ext>`, so
two copies never share a name. The viewer is started and never waited for, so a
copy cannot be removed when it closes: folders older than `STALE_SECONDS` (a
day; no one keeps a photo open that long) are swept at every start and by
`villagebook check --prune`. Nothing outside HOME/viewing is ever touched.
"""

from __future__ import annotations

import secrets
import shutil
import stat
import time
from pathlib import Path

VIEWING_DIR = "viewing"
STALE_SECONDS = 24 * 3600


def viewing_path(home: Path) -> Path:
    """The folder of viewer copies inside `home`."""
    return home / VIEWING_DIR


def new_folder(home: Path) -> Path:
    """A fresh folder for one viewer copy."""
    folder = viewing_path(home) / secrets.token_hex(8)
    folder.mkdir(parents=True, mode=0o700)
    return folder


def _writable(function: object, path: str, _: object) -> None:
    # A copy is read-only (0444) and so may its folder's entries be on Windows:
    # make it writable and try once more.
    Path(path).chmod(stat.S_IWRITE | stat.S_IREAD)
    Path(path).unlink(missing_ok=True)


def sweep(home: Path, *, now: float | None = None) -> int:
    """Remove viewer copies older than a day; how many folders went."""
    root = viewing_path(home)
    if not root.is_dir():
        return 0
    limit = (time.time() if now is None else now) - STALE_SECONDS
    removed = 0
    for folder in root.iterdir():
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_mtime >= limit:
                continue
            shutil.rmtree(folder, onerror=_writable)
            removed += 1
        except OSError:
            continue  # a viewer holds it open (Windows) or it went already
    return removed
