"""Long commands draw a progress line (count, rate, time left) on a terminal's stderr,
and never on a pipe or under --quiet: scripts see only the summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")
DEMO = ("demo", "--cases", "300", "--problems", "400")
BAR = "━"


def _in_pty(home: Path, *args: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdout and stderr; everything it drew."""
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("VILLAGEBOOK_HOME", None)
    proc = subprocess.Popen([sys.executable, "-m", "villagebook", "--home", str(home),
                             "--lang", "zh", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env)
    os.close(slave)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    return proc.wait(timeout=300), drawn.decode("utf-8", "replace")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    return home


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")
def test_demo_on_a_terminal_draws_count_rate_and_time_left(home: Path) -> None:
    code, drawn = _in_pty(home, *DEMO)
    assert code == 0, drawn
    assert "演示数据" in drawn and BAR in drawn
    assert "700/700" in drawn and "条/秒" in drawn and "0:00:" in drawn
    assert "300 个案例" in drawn


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")
def test_quiet_draws_nothing_even_on_a_terminal(home: Path) -> None:
    code, drawn = _in_pty(home, "--quiet", *DEMO)
    assert code == 0, drawn
    assert BAR not in drawn and "\x1b[" not in drawn
    assert "300 个案例" in drawn


def test_a_piped_stderr_stays_silent(home: Path) -> None:
    done = run_cli(home, *DEMO, lang="zh")
    assert done.code == 0, done
    assert done.err == ""
    assert done.out.count("\n") == 1 and "300 个案例" in done.out
