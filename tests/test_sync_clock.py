"""Wrong clocks: a laptop years ahead, set right a week later; a township days fast.

Nothing is refused for a clock: the receiver holds aside what is dated too far
ahead of its own clock and merges the rest; the node whose clock was wrong
re-dates its own changes once the clock is right, and those reach the district.
Every node's wall clock is pinned through VILLAGEBOOK_NOW, as the real CLI reads it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, Result, run_cli
from tests.sync_helpers import CASE, three_nodes
from villagebook.services import cases
from villagebook.store.node import Store

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def at(days: float) -> dict[str, str]:
    """A wall clock `days` from now."""
    return {"VILLAGEBOOK_NOW": (NOW + dt.timedelta(days=days)).isoformat()}


TEN_YEARS = 3653
A_WEEK = 7


def cli(home: Path, *args: str, days: float = 0) -> Result:
    return run_cli(home, *args, env=at(days))


def merged(home: Path, bundle: str, days: float) -> dict[str, Any]:
    result = cli(home, "merge", "--json", bundle, days=days)
    assert result.code == 0, result
    report: dict[str, Any] = result.json()["bundles"][0]
    assert report["status"] == "merged", report
    return report


def dump(home: Path) -> dict[str, Any]:
    result = cli(home, "dump", "--json", days=A_WEEK)
    assert result.code == 0, result
    data: dict[str, Any] = result.json()
    return data


def exported(home: Path, days: float, *extra: str) -> str:
    result = cli(home, "export", *extra, days=days)
    assert result.code == 0, result
    return result.out.strip()


def test_a_village_ten_years_ahead_is_held_aside_then_set_right_and_reaches_the_district(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        honest = cases.create_case(n.village, {**CASE, "title": "诚实的案例"})
        edited = cases.create_case(n.village, {**CASE, "title": "旧标题"})
        homes = n.village.home, n.township.home, n.district.home
    village, township, district = homes
    future_ms = int((NOW + dt.timedelta(days=TEN_YEARS)).timestamp() * 1000)
    with Store(village, wall_ms=lambda: future_ms) as wrong:
        born_in_future = cases.create_case(wrong, {**CASE, "title": "未来的案例"})
    assert cli(village, "set", "case", edited, "title=新标题", days=TEN_YEARS).code == 0
    first = exported(village, TEN_YEARS)

    # The township's clock is right: it merges the honest changes, holds the rest aside.
    report = merged(township, first, A_WEEK)
    assert [(h["origin"], h["sets"]) for h in report["held_aside"]] == [(VILLAGE[0], 2)]
    assert report["held_aside"][0]["newest"].startswith(str(NOW.year + 10))
    titles = {c["id"]: c["title"] for c in dump(township)["cases"]}
    assert titles == {honest: "诚实的案例", edited: "旧标题"}
    text = cli(township, "status", days=A_WEEK)
    assert "2 changes from 白马村 are dated up to" in text.out

    # A week later the village's clock is right again: it notices, and its next write
    # re-dates what it wrote in the future.
    told = cli(village, "clock", "--json", days=A_WEEK).json()
    assert told["verdict"] == "set back"
    fixed = cli(village, "set", "case", honest, "results=一周后的修改", days=A_WEEK)
    assert fixed.code == 0, fixed
    assert "Re-dated 2 changes" in fixed.err
    assert cli(village, "clock", "--json", days=A_WEEK).json()["verdict"] == "ok"
    second = exported(village, A_WEEK)
    report = merged(township, second, A_WEEK)
    assert report["held_aside"] == [] and report["conflicts"] == 0
    relayed = exported(township, A_WEEK)
    report = merged(district, relayed, A_WEEK)
    assert report["conflicts"] == 0

    for home in (township, district):
        found = {c["id"]: c for c in dump(home)["cases"]}
        assert found[honest]["results"] == "一周后的修改"
        assert found[edited]["title"] == "新标题"
        assert found[born_in_future]["title"] == "未来的案例"
        assert cli(home, "conflicts", "--json", days=A_WEEK).json() == []
    assert dump(township)["cases"] == dump(district)["cases"]


def test_export_full_a_week_later_carries_the_re_dated_changes(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        village, township = n.village.home, n.township.home
    assert cli(village, "set", "case", record, "title=未来标题", days=TEN_YEARS).code == 0
    result = cli(village, "export", "--full", days=A_WEEK)
    assert result.code == 0, result
    assert "Re-dated 1 changes" in result.err
    report = merged(township, result.out.strip(), A_WEEK)
    assert report["held_aside"] == []
    assert [c["title"] for c in dump(township)["cases"]] == ["未来标题"]


def test_a_township_days_fast_is_held_aside_below_and_above_and_heals_itself(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        cases.submit_case(n.village, record)
        village, township, district = n.village.home, n.township.home, n.district.home
    merged(township, exported(village, 0), 3)
    fast = cli(township, "review", record, "--approve", days=3)
    assert fast.code == 0, fast
    down = exported(township, 3, "--to", VILLAGE[0])
    up = exported(township, 3)

    # The district (clock right) takes the relayed village segment, holds the review aside.
    report = merged(district, up, 0)
    assert [(h["origin"], h["sets"]) for h in report["held_aside"]] == [(TOWNSHIP[0], 2)]
    assert [c["status"] for c in dump(district)["cases"]] == ["submitted"]
    assert dump(district)["reviews"] == []
    report = merged(village, down, 0)
    assert report["held_aside"] and dump(village)["reviews"] == []

    # Two days later the review's time is within a day: the next bundle releases it.
    cli(township, "set", "case", record, "measures=镇里补充", days=3)
    report = merged(district, exported(township, 3), 2)
    assert report["released"] == 2
    assert [c["status"] for c in dump(district)["cases"]] == ["approved"]
    assert cli(district, "clock", "--json", days=2).json()["held_aside"] == []
    assert DISTRICT[0] not in {h["origin"] for h in report["held_aside"]}


def test_a_clock_far_past_what_the_node_heard_warns_on_every_write_but_refuses_nothing(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        village, township = n.village.home, n.township.home
    merged(township, exported(village, 0), 0)
    merged(village, exported(township, 0, "--to", VILLAGE[0]), 0)  # heard from the township
    quiet = cli(village, "set", "case", record, "title=一周后", days=A_WEEK)
    assert quiet.code == 0 and quiet.err == ""
    ahead = cli(village, "set", "case", record, "title=明年", days=400)
    assert ahead.code == 0, ahead
    assert "days after the newest time heard from other nodes" in ahead.err
    assert len(ahead.err.strip().splitlines()) == 1
    told = cli(village, "clock", "--json", days=400).json()
    assert told["verdict"] == "ahead" and told["seen"]
    assert cli(village, "clock", days=400).out.count("\n") >= 4
    # Read-only commands say nothing about it.
    assert cli(village, "dump", "--json", days=400).err == ""


def test_a_new_village_whose_clock_jumps_ten_years_is_warned_at_its_first_such_write(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)  # nothing heard from anyone yet
        village = n.village.home
    jumped = cli(village, "set", "case", record, "title=十年后", days=TEN_YEARS)
    assert jumped.code == 0, jumped
    assert "days after this node last wrote" in jumped.err
    assert len(jumped.err.strip().splitlines()) == 1


def test_a_clock_set_back_behind_what_others_said_warns_and_re_dates_nothing(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        village, township = n.village.home, n.township.home
    merged(township, exported(village, 0), 0)
    merged(village, exported(township, 0, "--to", VILLAGE[0]), 0)
    behind = cli(village, "set", "case", record, "title=去年", days=-365)
    assert behind.code == 0, behind
    assert "before the newest time heard from other nodes" in behind.err
    assert "Re-dated" not in behind.err
    assert cli(village, "clock", "--json", days=-365).json()["verdict"] == "behind"


async def test_the_app_says_at_once_that_changes_were_re_dated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pilot import settle
    from villagebook.screens.app import make_app

    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        home = n.village.home
    assert cli(home, "set", "case", record, "title=未来标题", days=TEN_YEARS).code == 0
    monkeypatch.setenv("VILLAGEBOOK_NOW", at(A_WEEK)["VILLAGEBOOK_NOW"])
    app = make_app(home, "en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        messages = [note.message for note in app._notifications]
    assert any(message.startswith("Re-dated 1 changes") for message in messages), messages
    assert cli(home, "clock", "--json", days=A_WEEK).json()["verdict"] == "ok"


def test_clock_redate_is_the_way_back_when_the_nodes_heard_from_ran_ahead_too(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        village, township = n.village.home, n.township.home
    assert cli(village, "set", "case", record, "title=未来标题", days=TEN_YEARS).code == 0
    merged(township, exported(village, TEN_YEARS), TEN_YEARS)  # both ten years ahead
    merged(village, exported(township, TEN_YEARS, "--to", VILLAGE[0]), TEN_YEARS)
    assert cli(village, "clock", "--json", days=A_WEEK).json()["verdict"] == "behind"
    back = cli(village, "clock", "--redate", "--json", days=A_WEEK)
    assert back.code == 0, back
    assert "Re-dated 1 changes" in back.err
    assert back.json()["verdict"] == "ok"


async def test_the_sync_screen_says_what_it_held_aside_and_what_it_re_dated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import Input, Static

    from tests.pilot import Harness, settle
    from villagebook.screens.sync_screen import SyncScreen

    stick = tmp_path / "usb"
    with three_nodes(tmp_path) as n:
        record = cases.create_case(n.village, CASE)
        village, township = n.village.home, n.township.home
    assert cli(village, "set", "case", record, "title=未来标题", days=TEN_YEARS).code == 0
    stick.mkdir()
    (stick / "ahead.vbundle").write_bytes(Path(exported(village, TEN_YEARS)).read_bytes())
    app = Harness(lambda: SyncScreen(township))
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#folder", Input).value = str(stick)
        await pilot.press("ctrl+r")
        await settle(pilot)
        status = str(app.screen.query_one("#status", Static).content)
    assert "来自白马村的 1 条修改" in status and "已暂存" in status

    monkeypatch.setenv("VILLAGEBOOK_NOW", at(A_WEEK)["VILLAGEBOOK_NOW"])
    app = Harness(lambda: SyncScreen(village, tmp_path / "usb2"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+e")
        await settle(pilot)
        messages = [note.message for note in app._notifications]
    assert any("重新标注时间" in message for message in messages), messages
