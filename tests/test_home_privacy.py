"""Another user of the laptop reads nothing of a home: the home, its database (and
the WAL and SHM files beside it while it is open), its keys and files are owner-only
on POSIX, and a home made by an older VillageBook is made so when it is next opened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import VILLAGE, run_cli
from villagebook.store.node import Store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes (Windows: the ACL)")
INIT = ("init", "--role", "village", "--unit", VILLAGE[0], "--name", VILLAGE[1],
        "--parent", VILLAGE[2])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _others_read_nothing(home: Path) -> None:
    assert _mode(home) == 0o700
    for entry in home.iterdir():
        assert _mode(entry) & 0o077 == 0, (entry, oct(_mode(entry)))


def test_a_new_home_and_its_open_database_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "baima"
    run_cli(home, *INIT, check=True)
    run_cli(home, "demo", "--cases", "3", "--problems", "3", check=True)
    _others_read_nothing(home)
    assert _mode(home / "keys" / "node.key") == 0o600
    with Store(home) as store:  # while open, SQLite's WAL and SHM files exist
        store.conn.execute("CREATE TEMP TABLE t (x)")
        store.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        beside = sorted(path.name for path in home.glob("villagebook.db-*"))
        assert beside == ["villagebook.db-shm", "villagebook.db-wal"]
        _others_read_nothing(home)


def test_an_older_world_readable_home_is_made_owner_only_when_opened(tmp_path: Path) -> None:
    home = tmp_path / "baima"
    run_cli(home, *INIT, check=True)
    home.chmod(0o755)
    (home / "villagebook.db").chmod(0o644)
    (home / "keys").chmod(0o755)
    run_cli(home, "dump", check=True)
    _others_read_nothing(home)
