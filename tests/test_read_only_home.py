"""A home on a write-protected stick or in a locked-down profile: reading works (dump,
search, conflicts, a report written elsewhere), a write is refused in one line naming
the folder, and the database is not touched.

Tests run as root in CI, where a folder's missing write permission stops nothing and
no unprivileged Python can be run (the interpreter lives under /root). So the command
runs in this process with `os.access` saying what a write-protected folder says (no
write access); the database is then opened read-only (`immutable`) by SQLite itself,
and a real write attempt would fail there too. As a normal user the second test
write-protects the home for real, with `chmod`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, init_village, run_cli
from villagebook.cli import main


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = init_village(tmp_path / "baima")
    run_cli(home, "demo", "--cases", "3", "--problems", "3", check=True)
    return home


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> Callable[..., Result]:
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


def _write_protect(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    real = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        inside = str(Path(str(path)).resolve()).startswith(str(home.resolve()))
        if inside and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)


def _fingerprint(home: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(home.rglob("*")) if path.is_file()}


def _reads_work_and_writes_refuse(run: Callable[..., Result], home: Path,
                                  tmp_path: Path) -> None:
    before = _fingerprint(home)
    dumped = run(home, "dump", "--json")
    assert dumped.code == 0 and '"cases"' in dumped.out, dumped
    assert run(home, "search", "村", "--json").code == 0
    assert run(home, "conflicts").code == 0
    report = run(home, "report", "--kind", "case", "--out", str(tmp_path / "cases.csv"))
    assert report.code == 0 and (tmp_path / "cases.csv").exists(), report
    for lang, needle in (("en", "cannot be written"), ("zh", "无法写入")):
        refused = run(home, "demo", "--cases", "1", "--seed", "99", lang=lang)
        assert refused.code == 1, refused
        assert refused.err.strip().count("\n") == 0 and needle in refused.err, refused
        assert str(home) in refused.err and "Traceback" not in refused.err
    assert _fingerprint(home) == before
    assert not (home / "error.log").exists()


def test_a_write_protected_home_reads_and_refuses_writes(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run: Callable[..., Result]) -> None:
    _write_protect(monkeypatch, home)
    _reads_work_and_writes_refuse(run, home, tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes to a chmod a-w folder; the test above covers root")
def test_a_chmod_protected_home_reads_and_refuses_writes(
        home: Path, tmp_path: Path, run: Callable[..., Result]) -> None:
    paths = [home, *home.rglob("*")]
    for path in paths:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    try:
        _reads_work_and_writes_refuse(run, home, tmp_path)
    finally:
        for path in paths:
            path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o200)
