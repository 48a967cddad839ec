"""A failure says the same calm sentence in the app as on the command line:
one table (`services.failures.explain_failure`) from the kind of failure to the words."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.worker import WorkerFailed

from tests.conftest import VILLAGE, make_node
from tests.pilot import settle
from villagebook.domain.clock import ClockDriftError
from villagebook.domain.enums import Role
from villagebook.screens.app import make_app
from villagebook.services.errors import RecordNotFound
from villagebook.store.db import HomeBusy
from villagebook.store.migrations import FutureSchemaError

DAY_MS = 86_400_000
KINDS: dict[str, tuple[BaseException, str]] = {
    "refused": (RecordNotFound("case", "c-1"), "c-1"),
    "future schema": (FutureSchemaError(["9999-from-the-future"]), "更新版本"),
    "clock drift": (ClockDriftError(remote=(40 * DAY_MS) << 16, wall_ms=0), "40 天"),
    "disk full (sqlite)": (sqlite3.OperationalError("database or disk is full"), "磁盘已满"),
    "disk full (os)": (OSError(errno.ENOSPC, "No space left on device"), "磁盘已满"),
    "busy": (HomeBusy("database is locked"), "正在写入"),
    "damaged": (sqlite3.DatabaseError("file is not a database"), "已损坏"),
    "read-only": (sqlite3.OperationalError("attempt to write a readonly database"), "无法写入"),
    "permission": (PermissionError(errno.EACCES, "Permission denied", "/x/\x1b[2Jy"),
                   "无法使用 /x/\\x1b[2Jy"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_failed_worker_says_the_sentence_of_its_kind(
        tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VILLAGEBOOK_NOW", "2026-06-01T10:00:00")
    error, expected = KINDS[kind]
    make_node(tmp_path / "home", Role.VILLAGE, VILLAGE).close()
    app: Any = make_app(tmp_path / "home", "zh")

    def fails() -> None:
        raise error

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.clear_notifications()
        worker = app.run_worker(fails, thread=True, exit_on_error=False)
        with contextlib.suppress(WorkerFailed):
            await worker.wait()
        await settle(pilot)
        messages = [str(note.message) for note in app._notifications]
    assert len(messages) == 1, messages
    assert expected in messages[0], messages
    assert "Something went wrong" not in messages[0] and "出了点问题" not in messages[0]
    assert "\x1b" not in messages[0]
