"""A power cut (here `kill -9`) at any moment of a merge leaves an intact database
holding the state before or after that bundle, and merging again completes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sync_helpers import send, three_nodes
from villagebook.services.demo import generate
from villagebook.services.dump import dump_json
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file


def _merge_process(home: Path, bundle: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("VILLAGEBOOK_HOME", None)
    return subprocess.Popen([sys.executable, "-m", "villagebook", "--home", str(home),
                             "--lang", "en", "merge", str(bundle)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_during_a_merge_leaves_before_or_after_and_a_retry_completes(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        generate(n.village, cases=1500, problems=1500, seed=7)
        bundle = send(n.village, tmp_path / "stick")
        township = n.township.home
    with Store(township) as store:
        before = dump_json(store)
    reference = tmp_path / "reference"
    shutil.copytree(township, reference)
    with Store(reference) as store:
        assert merge_file(store, bundle).status == "merged"
        after = dump_json(store)
    assert before != after
    outcomes = set()
    for delay in (0.15, 0.4, 0.7, 1.0, 1.4, 2.0):
        process = _merge_process(township, bundle)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        with Store(township) as store:
            assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            now = dump_json(store)
        assert now in (before, after)
        outcomes.add("after" if now == after else "before")
    again = _merge_process(township, bundle)
    assert again.wait(timeout=120) == 0
    with Store(township) as store:
        assert dump_json(store) == after
    assert "before" in outcomes or "after" in outcomes
