"""Several VillageBooks on one home at once, as real processes: a township merges two
villages' sticks at the same time while a script corrects a record; a demo fills a
home while a search runs in a loop. Nobody sees "database is locked", and no write is
lost. No timing is asserted: each process is only bounded by a generous timeout.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import VILLAGE2, introduce, send
from villagebook.cli.base import user_errors
from villagebook.domain.enums import Role
from villagebook.i18n import set_language
from villagebook.services import cases, problems
from villagebook.services.messages import describe
from villagebook.store import db
from villagebook.store.home import database_path
from villagebook.store.node import Store

#: Every process must finish within this; a deadlock fails the test instead of hanging it.
BOUND_S = 240
_TROUBLE = ("locked", "busy", "Traceback", "另一个 VillageBook", "Another VillageBook")


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    """`villagebook --home HOME ARGS` started in the background."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("VILLAGEBOOK_HOME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "villagebook", "--home", str(home), "--lang", "en", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=BOUND_S)
    return process.returncode, out, err


def assert_calm(code: int, out: str, err: str) -> None:
    assert code == 0, (code, out[-500:], err[-500:])
    assert not [word for word in _TROUBLE if word in err], err[-500:]


@pytest.mark.xdist_group("concurrency")
def test_two_merges_and_a_script_write_to_one_township_at_once(tmp_path: Path) -> None:
    town = make_node(tmp_path / "town", Role.TOWNSHIP, TOWNSHIP)
    sticks, expected = [], 0
    for seed, unit in enumerate((VILLAGE, VILLAGE2), start=7):
        village = make_node(tmp_path / unit[0], Role.VILLAGE, unit)
        introduce(town, village)
        introduce(village, town)
        village.close()
        run_cli(tmp_path / unit[0], "demo", "--cases", "150", "--problems", "150",
                "--seed", str(seed), check=True)
        village = Store(tmp_path / unit[0])
        expected += village.conn.execute("SELECT count(*) FROM innovation_case").fetchone()[0]
        sticks.append(send(village, tmp_path / f"stick-{unit[0]}"))
        village.close()
    own = problems.create_problem(town, {
        "title": "镇村道路破损", "category": "urgent", "source": "visit",
        "reported_date": "2026-01-05", "urgency": "high", "deadline": "2026-12-01"})
    town.close()
    merges = [start(tmp_path / "town", "merge", str(stick)) for stick in sticks]
    for number in range(1, 13):  # the clerk's script corrects the township's own problem
        made = run_cli(tmp_path / "town", "set", "problem", own, f"title=镇村道路破损第{number}次")
        assert_calm(made.code, made.out, made.err)
    for merge in merges:
        assert_calm(*finish(merge))
    dumped = run_cli(tmp_path / "town", "dump", "--json", check=True).json()
    held = {case["unit_code"] for case in dumped["cases"]}
    assert len(dumped["cases"]) == expected and held == {VILLAGE[0], VILLAGE2[0]}
    assert [p["title"] for p in dumped["problems"] if p["id"] == own] == ["镇村道路破损第12次"]


@pytest.mark.xdist_group("concurrency")
def test_a_search_loop_runs_calmly_while_demo_fills_the_home(tmp_path: Path) -> None:
    home = tmp_path / "baima"
    run_cli(home, "init", "--role", "village", "--unit", VILLAGE[0], "--name", VILLAGE[1],
            "--parent", VILLAGE[2], check=True)
    demo = start(home, "demo", "--cases", "400", "--problems", "400")
    searches = 0
    while demo.poll() is None and searches < 200:
        found = run_cli(home, "search", "村", "--json")
        assert_calm(found.code, found.out, found.err)
        assert isinstance(json.loads(found.out), list)
        searches += 1
    assert_calm(*finish(demo))
    dumped = run_cli(home, "dump", "--json", check=True).json()
    assert (len(dumped["cases"]), len(dumped["problems"])) == (400, 400)
    assert searches >= 1


@pytest.mark.xdist_group("concurrency")
def test_a_write_waits_out_another_process_that_writes_longer_than_the_busy_timeout(
    tmp_path: Path,
) -> None:
    """A merge of a huge stick can hold the home longer than SQLite's busy timeout: a
    `set` started meanwhile waits its turn instead of giving up."""
    home = tmp_path / "baima"
    run_cli(home, "init", "--role", "village", "--unit", VILLAGE[0], "--name", VILLAGE[1],
            "--parent", VILLAGE[2], check=True)
    made = run_cli(home, "demo", "--cases", "8", "--problems", "0", check=True)
    assert made.code == 0
    case_id = next(case["id"] for case in run_cli(home, "dump", "--json", check=True).json()
                   ["cases"] if case["status"] == "draft")  # one its unit may still edit
    other = sqlite3.connect(database_path(home), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # what a long merge in another process looks like
    try:
        waiting = start(home, "set", "case", case_id, "title=等候写入的更正")
        time.sleep(db.BUSY_TIMEOUT_MS / 1000 + 2)  # hold it past one busy timeout
    finally:
        other.execute("COMMIT")
        other.close()
    assert_calm(*finish(waiting))
    titles = {c["id"]: c["title"] for c in run_cli(home, "dump", "--json", check=True).json()
              ["cases"]}
    assert titles[case_id] == "等候写入的更正"


def test_a_write_that_waits_in_vain_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(db, "WRITE_PATIENCE_S", 0.3)
    store = make_node(tmp_path / "baima", Role.VILLAGE, VILLAGE)
    store.conn.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(database_path(store.home), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(db.HomeBusy) as busy:
            cases.create_case(store, {"title": "积分制管理", "lead_person": "王芳",
                                      "direction": "process"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not store.conn.in_transaction
    assert store.conn.execute("SELECT count(*) FROM innovation_case").fetchone() == (0,)
    set_language("zh")
    assert describe(busy.value) == ("另一个 VillageBook 正在写入这个数据目录；本次没有做任何修改。"
                                    "请等它完成后再试")
    with pytest.raises(SystemExit) as exited, user_errors():
        raise busy.value
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().startswith("另一个 VillageBook 正在写入")
    store.close()


async def test_the_app_says_another_villagebook_is_writing_and_keeps_the_form(
    village: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.widgets import Input, Select, Static

    from tests.pilot import settle
    from villagebook.screens.app import make_app

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(db, "WRITE_PATIENCE_S", 0.3)
    other = sqlite3.connect(database_path(village.home), isolation_level=None)
    app = make_app(village.home, "zh")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        form.query_one("#field-title", Input).value = "稻田养虾合作社"
        form.query_one("#field-lead_person", Input).value = "张明"
        form.query_one("#field-direction", Select).value = "breakthrough"
        other.execute("BEGIN IMMEDIATE")  # a merge in another process, say
        await pilot.press("ctrl+s")
        await settle(pilot)
        other.execute("COMMIT")
        shown = app.screen.query_one("#form-problem", Static).render()
        assert str(shown) == ("另一个 VillageBook 正在写入这个数据目录；本次没有做任何修改。"
                              "请等它完成后再试")
        assert app.screen is form  # what was typed is still there: save again
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
    other.close()
    titles = [row[0] for row in village.conn.execute("SELECT title FROM innovation_case")]
    assert titles == ["稻田养虾合作社"]
