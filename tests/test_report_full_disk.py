"""A report onto a full disk: one line, exit 1, no half file, and no Python noise
("Exception ignored in: ZipFile.__del__") after it: the workbook's zip is closed on
every path.

The disk fills up under the workbook's zip file: `zipfile` opens its file through
`io.open`, and here that file finds no room once `ROOM` bytes are written, as a
nearly full stick does. The command runs in this process so the patch reaches it;
`sys.unraisablehook` catches what a `__del__` would have printed.
"""

from __future__ import annotations

import errno
import gc
import io
import os
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from villagebook.cli import main

ROOM = 4096
VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")


class _NearlyFull:
    """A binary file that raises ENOSPC once `ROOM` bytes have been written to it,
    and on every write after that."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._room = ROOM

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            self._room = 0  # a full disk stays full: every later write fails too
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return int(self._handle.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _fill_the_disk_under_zips(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("io")
    fake.__dict__.update(io.__dict__)

    def open_nearly_full(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = open(file, mode, *args, **kwargs)  # noqa: SIM115 (zipfile keeps it)
        return _NearlyFull(handle) if "w" in mode or "+" in mode else handle

    fake.open = open_nearly_full  # type: ignore[attr-defined]
    monkeypatch.setattr(zipfile, "io", fake)


@pytest.mark.parametrize(("lang", "needle"), [("en", "the disk is full"), ("zh", "磁盘已满")])
def test_a_report_onto_a_full_disk_says_so_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        lang: str, needle: str) -> None:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    run_cli(home, "demo", "--cases", "40", "--problems", "40", check=True)
    out = tmp_path / "reports"
    out.mkdir()
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    _fill_the_disk_under_zips(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["villagebook", "--home", str(home), "--lang", lang,
                                      "report", "--kind", "case", "--out",
                                      str(out / "cases.xlsx")])
    capsys.readouterr()
    try:
        main()
        code: object = 0
    except SystemExit as done:  # the traceback, and the frames it holds, die here
        code = done.code
    gc.collect()
    err = capsys.readouterr().err
    assert code == 1, err
    assert needle in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert unraisable == [], [hook.exc_value for hook in unraisable]
    assert list(out.iterdir()) == []
