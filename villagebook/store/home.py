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
