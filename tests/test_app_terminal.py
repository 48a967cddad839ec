"""The app and its terminal: no terminal, no app (one clear line); a terminal that
goes away (hung up, or SIGHUP) ends the app instead of leaving it spinning."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX ptys and signals")
VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")


def test_without_a_terminal_the_app_refuses_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("VILLAGEBOOK_HOME", None)
    done = subprocess.run([sys.executable, "-m", "villagebook", "--home", str(home),
                           "--lang", "zh"], stdin=subprocess.DEVNULL, capture_output=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stdout == b""
    err = done.stderr.decode("utf-8")
    assert "终端" in err and err.count("\n") == 1
    assert "\x1b" not in err


class AppInPty:
    """The real app on a fresh pseudo-terminal, its screen drained on a thread."""

    def __init__(self, home: Path) -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        env.pop("VILLAGEBOOK_HOME", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "villagebook", "--home", str(home), "--lang", "zh"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.screen = bytearray()
        self.drawn = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.screen += chunk
            if "白马村".encode() in self.screen:
                self.drawn.set()

    def exited(self, within: float) -> bool:
        """Whether the process ended within `within` seconds (polled; a bound, not a
        measurement: a slow machine only makes the wait longer)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.master)


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    return home


@posix_only
def test_the_app_ends_when_its_terminal_hangs_up(app_home: Path) -> None:
    app = AppInPty(app_home)
    try:
        assert app.drawn.wait(120), bytes(app.screen[-400:])
        os.close(app.master)  # the window closed: the terminal hangs up
        assert app.exited(within=60), "the app kept running after its terminal went away"
    finally:
        app.close()


@posix_only
def test_the_app_ends_on_sighup(app_home: Path) -> None:
    app = AppInPty(app_home)
    try:
        assert app.drawn.wait(120), bytes(app.screen[-400:])
        app.proc.send_signal(signal.SIGHUP)
        assert app.exited(within=60)
        assert app.proc.returncode == 0, "ended by its own exit, not killed by the signal"
    finally:
        app.close()
