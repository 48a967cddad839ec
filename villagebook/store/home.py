"""Where a node keeps its files: the *home* folder.

A home holds the database, the signing keys and nothing else, so several homes
on one machine behave as separate laptops (tests and demos rely on it).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "VILLAGEBOOK_HOME"
DATABASE_NAME = "villagebook.db"
KEYS_DIR = "keys"


def resolve_home(option: str | Path | None = None) -> Path:
    """The home folder: `--home`, else $VILLAGEBOOK_HOME, else the user data folder."""
    if option:
        return Path(option).expanduser()
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Path(from_env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("villagebook", appauthor=False)


def database_path(home: Path) -> Path:
    """The node's SQLite file inside `home`."""
    return home / DATABASE_NAME


def keys_path(home: Path) -> Path:
    """The folder of the node's signing keys inside `home`."""
    return home / KEYS_DIR


#: Owner-only modes on POSIX: another user of the laptop reads nothing of a home.
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
#: The umask every file and folder of a home is made under (owner-only from the first
#: instant; SQLite gives the WAL and SHM files the database file's own mode).
PRIVATE_UMASK = 0o077


def keep_private(home: Path) -> None:
    """Make `home` and what it holds owner-only (POSIX), fixing homes made before.

    The home folder at 0700 already keeps every deeper file from other users (they
    cannot enter it), so only the home and its direct entries are checked: a few
    stats at start-up, however many attachments it holds. Entries we do not own, and
    a home we may not change (a write-protected stick), are left as they are.
    On Windows a home under %LOCALAPPDATA% is protected by the user profile's ACL.
    """
    if os.name != "posix":
        return
    _restrict(home, PRIVATE_FOLDER)
    try:
        entries = list(os.scandir(home))
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink():
            continue
        _restrict(Path(entry.path), PRIVATE_FOLDER if entry.is_dir() else PRIVATE_FILE)


def _restrict(path: Path, mode: int) -> None:
    try:
        status = path.stat()
        if status.st_uid == os.geteuid() and status.st_mode & 0o777 & ~mode:
            path.chmod(status.st_mode & 0o777 & mode)
    except OSError:
        pass
