"""A full disk during a write: one clear line in the user's language, exit 1,
no traceback, and the database exactly as it was.

The commands run in this process (not through `run_cli`'s subprocess) so that
monkeypatch can make the disk full: SQLite's `PRAGMA max_page_count` makes a
write fail with SQLITE_FULL ("database or disk is full") once the file would
grow past that many pages, exactly as a full disk does; a full USB stick under
an export is an `OSError(ENOSPC)` from the file write.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, run_cli
from tests.sync_helpers import CASE, full_at_the_manifest, send, three_nodes
from villagebook.cli import main
from villagebook.services import cases
from villagebook.store import db
from villagebook.sync import export as export_module

DISK_FULL_EN = "The disk is full; nothing was saved. Free some space and try again"
DISK_FULL_ZH = "磁盘已满，本次没有保存任何内容。请清理空间后重试"
VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> Callable[..., Result]:
    """Run the real entry point (`villagebook.cli.main`) in this process."""

    def run_here(home: Path, *args: str, lang: str = "en") -> Result:
        monkeypatch.setattr(sys, "argv", ["villagebook", "--home", str(home), "--lang", lang,
                                          *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run_here


def fill_disk(monkeypatch: pytest.MonkeyPatch, margin: int = 0) -> None:
    """From now on every store opened finds its disk full `margin` pages from now."""
    real_connect = db.connect

    def connect(path: Path | str, *, upgrade: bool = True) -> sqlite3.Connection:
        conn = real_connect(path, upgrade=upgrade)
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages + margin}")
        assert free <= margin, "free pages would absorb the write; vacuum first"
        return conn

    monkeypatch.setattr(db, "connect", connect)


def dump(home: Path) -> str:
    """The canonical dump of every record (the subprocess never sees our patches)."""
    result = run_cli(home, "dump", "--json", check=True)
    return result.out


def one_clear_line(result: Result, expected: str, home: Path) -> None:
    """Exit 1 with exactly `expected` on stderr, no traceback, no crash log."""
    assert result.code == 1, result
    assert result.err.strip().splitlines() == [expected], result
    assert "Traceback" not in result.out + result.err
    assert not (home / "error.log").exists()


def write_cases_csv(path: Path, rows: int) -> None:
    """A spreadsheet of `rows` valid cases with long texts (grows the database)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["案例名称", "负责人", "创新方向", "开始时间", "采取措施"])
        for number in range(rows):
            writer.writerow([f"网格员走村入户第{number}号", "王芳", "问题解决中的重点突破",
                             "2025-01-01", "逐户走访，建立民情台账。" * 40])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    run_cli(home, "demo", "--cases", "3", "--problems", "3", check=True)
    return home


@pytest.mark.parametrize(("lang", "message"), [("en", DISK_FULL_EN), ("zh", DISK_FULL_ZH)])
def test_import_onto_a_full_disk_says_so_and_imports_nothing(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run: Callable[..., Result], lang: str, message: str) -> None:
    sheet = tmp_path / "cases.csv"
    write_cases_csv(sheet, 300)
    before = dump(home)
    fill_disk(monkeypatch, margin=2)
    result = run(home, "import", str(sheet), lang=lang)
    one_clear_line(result, message, home)
    assert dump(home) == before


def test_the_same_import_succeeds_with_room_to_spare(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run: Callable[..., Result]) -> None:
    """The control: the patched connection itself breaks nothing, only the space."""
    sheet = tmp_path / "cases.csv"
    write_cases_csv(sheet, 300)
    fill_disk(monkeypatch, margin=100_000)
    result = run(home, "import", str(sheet))
    assert result.code == 0, result
    assert "Imported 300 cases" in result.out


@pytest.mark.parametrize(("lang", "message"), [("en", DISK_FULL_EN), ("zh", DISK_FULL_ZH)])
def test_demo_onto_a_full_disk_says_so_and_adds_nothing(
        home: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result], lang: str,
        message: str) -> None:
    before = dump(home)
    fill_disk(monkeypatch, margin=2)
    result = run(home, "demo", "--cases", "200", "--problems", "200", "--seed", "7", lang=lang)
    one_clear_line(result, message, home)
    assert dump(home) == before


@pytest.mark.parametrize(("lang", "message"), [("en", DISK_FULL_EN), ("zh", DISK_FULL_ZH)])
def test_a_correction_onto_a_full_disk_says_so_and_changes_nothing(
        home: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result], lang: str,
        message: str) -> None:
    before = dump(home)
    case_id = next(case["id"] for case in run_cli(home, "dump", "--json", check=True).json()
                   ["cases"] if case["status"] == "draft")  # one its unit may still edit
    fill_disk(monkeypatch, margin=0)
    # 5000 Chinese characters are 15 kB: more than fits on the pages already there.
    result = run(home, "set", "case", case_id, "measures=" + "措" * 5000, lang=lang)
    one_clear_line(result, message, home)
    assert dump(home) == before


@pytest.mark.parametrize(("lang", "message"), [("en", DISK_FULL_EN), ("zh", DISK_FULL_ZH)])
def test_merging_a_good_bundle_onto_a_full_disk_is_not_blamed_on_the_bundle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result], lang: str,
        message: str) -> None:
    with three_nodes(tmp_path / "nodes") as n:
        for number in range(150):
            cases.create_case(n.village, {**CASE, "title": f"{CASE['title']}{number}",
                                          "measures": "逐户走访，建立民情台账。" * 40})
        bundle = send(n.village, tmp_path / "stick")
        township = n.township.home
    before = dump(township)
    fill_disk(monkeypatch, margin=2)
    result = run(township, "merge", str(bundle), lang=lang)
    one_clear_line(result, message, township)
    assert dump(township) == before
    monkeypatch.undo()
    # With room again, the very same bundle merges: it was never the bundle's fault.
    again = run_cli(township, "merge", str(bundle), "--json", check=True)
    assert again.json()["bundles"][0]["status"] == "merged"


class _FullAfter:
    """A zip member's write handle on a stick that fills up after `room` bytes."""

    def __init__(self, handle: Any, room: int) -> None:
        self._handle = handle
        self._room = room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return int(self._handle.write(data))


def _full_in_the_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    real = export_module._write_own

    def write_own(store: Any, handle: Any, *args: Any) -> Any:
        return real(store, _FullAfter(handle, 2000), *args)

    monkeypatch.setattr(export_module, "_write_own", write_own)


def _full_at_the_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    # Delayed allocation: the writes went into the cache, the flush finds no room.
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export_module.os, "fsync", fsync)


@pytest.mark.parametrize("fill", [_full_in_the_payload, full_at_the_manifest,
                                  _full_at_the_flush])
@pytest.mark.parametrize(("lang", "needle"), [("en", "no bundle was written"),
                                              ("zh", "没有写入任何数据包")])
def test_export_onto_a_full_stick_leaves_no_half_bundle_and_no_gap(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run: Callable[..., Result], fill: Callable[[pytest.MonkeyPatch], None], lang: str,
        needle: str) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    before = dump(home)
    fill(monkeypatch)
    # This village knows no township key: a plain bundle, written on the stick itself.
    result = run(home, "export", "--plain", "--out", str(stick), lang=lang)
    assert result.code == 1, result
    [line] = result.err.strip().splitlines()
    assert needle in line and str(stick) in line, line
    assert "Traceback" not in result.out + result.err
    assert not (home / "error.log").exists()
    assert list(stick.iterdir()) == []
    assert dump(home) == before
    monkeypatch.undo()
    # With room again the bundle takes number 1: the failed one used up no number.
    again = run_cli(home, "export", "--plain", "--out", str(stick), check=True)
    assert Path(again.out.strip()).name.endswith("-0001.vbundle")
    assert [p.name for p in stick.iterdir()] == [Path(again.out.strip()).name]


def test_export_to_a_bundle_file_on_a_full_stick_leaves_nothing_behind(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run: Callable[..., Result]) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    _full_in_the_payload(monkeypatch)
    result = run(home, "export", "--plain", "--out", str(stick / "up.vbundle"), lang="zh")
    assert result.code == 1, result
    assert "没有写入任何数据包" in result.err and str(stick) in result.err
    assert list(stick.iterdir()) == []


def _bundle_for_the_township(root: Path) -> tuple[Path, Path]:
    """A good bundle from the village, and the township's home that should merge it."""
    with three_nodes(root / "nodes") as n:
        cases.create_case(n.village, CASE)
        return send(n.village, root / "stick"), n.township.home


def _no_room_for_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copying a file finds the disk full the way a plain write does (no file named)."""
    def copyfileobj(source: Any, target: Any, length: int = 0) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(shutil, "_USE_CP_SENDFILE", False, raising=False)
    monkeypatch.setattr(shutil, "copyfileobj", copyfileobj)


@pytest.mark.parametrize(("lang", "message"), [("en", DISK_FULL_EN), ("zh", DISK_FULL_ZH)])
def test_no_room_to_keep_a_copy_of_a_good_bundle_is_not_blamed_on_the_bundle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result], lang: str,
        message: str) -> None:
    """Merging keeps the bundle's bytes in the home (to relay them): a full home disk
    there is an `OSError(ENOSPC)` from the copy's write, not a SQLite error."""
    bundle, township = _bundle_for_the_township(tmp_path)
    before = dump(township)
    _no_room_for_the_copy(monkeypatch)
    result = run(township, "merge", str(bundle), lang=lang)
    one_clear_line(result, message, township)
    assert dump(township) == before


def test_no_room_to_keep_a_copy_leaves_no_partial_copy_in_the_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]) -> None:
    bundle, township = _bundle_for_the_township(tmp_path)
    _no_room_for_the_copy(monkeypatch)
    assert run(township, "merge", str(bundle)).code == 1
    assert sorted(p.name for p in (township / "bundles").iterdir()) == []


@pytest.mark.skipif(not getattr(shutil, "_USE_CP_SENDFILE", False),
                    reason="shutil copies with sendfile only on Linux")
def test_no_room_for_a_sendfile_copy_is_not_blamed_on_the_bundle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]) -> None:
    bundle, township = _bundle_for_the_township(tmp_path)

    def sendfile(*args: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "sendfile", sendfile)
    result = run(township, "merge", str(bundle))
    one_clear_line(result, DISK_FULL_EN, township)


def test_a_write_that_fills_the_disk_raises_its_own_error_and_keeps_nothing(
        tmp_path: Path) -> None:
    """SQLite rolls a SQLITE_FULL transaction back itself; `transaction` must not then
    fail on its own ROLLBACK and hide the error that says the disk is full."""
    conn = db.connect(tmp_path / "full.db", upgrade=False)
    conn.execute("CREATE TABLE t (x TEXT)")
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"), db.transaction(conn):
        conn.execute("INSERT INTO t VALUES ('kept?')")
        conn.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,))
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    conn.close()


def test_a_commit_that_fails_is_rolled_back_not_left_open(tmp_path: Path) -> None:
    """A failed COMMIT (here a deferred constraint; a full disk can fail it too) must not
    leave the transaction open for the next write to join silently."""
    conn = db.connect(tmp_path / "commit.db", upgrade=False)
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (parent INTEGER REFERENCES parent(id) "
                 "DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), db.transaction(conn):
        conn.execute("INSERT INTO child VALUES (42)")
    assert not conn.in_transaction
    with db.transaction(conn):
        conn.execute("INSERT INTO parent VALUES (1)")
    assert conn.execute("SELECT count(*) FROM child").fetchone() == (0,)
    conn.close()
