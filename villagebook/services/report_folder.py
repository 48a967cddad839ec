"""Where the app saves reports, and opening that folder for the user.

A laptop's own home (the default user data folder, hidden on Windows under
%LOCALAPPDATA%) saves reports where people look for files: `Documents\\VillageBook`.
A home chosen with `--home` or $VILLAGEBOOK_HOME (a second office on one laptop,
a test, a demo) is a laptop of its own and keeps its reports in `<home>/reports`,
so two homes never mix their spreadsheets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from platformdirs import user_data_path, user_documents_path

DOCUMENTS_SUBFOLDER = "VillageBook"
HOME_SUBFOLDER = "reports"


def reports_folder(home: Path) -> Path:
    """The folder the app writes `home`'s reports to (not created here)."""
    own = user_data_path("villagebook", appauthor=False)
    if home.expanduser().resolve() == own.resolve():
        return user_documents_path() / DOCUMENTS_SUBFOLDER
    return home / HOME_SUBFOLDER


def free_name(path: Path) -> Path:
    """`path`, or the first `name (2).xlsx`, `name (3).xlsx`… that does not exist yet."""
    if not path.exists():
        return path
    number = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        if not candidate.exists():
            return candidate
        number += 1


def open_folder(folder: Path) -> None:
    """Show `folder` in the system's file manager, without waiting for it (Explorer on
    Windows, Finder on macOS, xdg-open elsewhere); OSError if there is no way to."""
    if sys.platform == "win32":
        os.startfile(folder)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen([opener, str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
