"""The whole season told end to end: three kinds of laptop, real bundles between them.

白马村 submits a case; 白马镇 returns it with a comment; the village sees the
comment, fixes the case and submits again; the township approves and passes it
up; the district's experts score it; the ranking names the Cheetah (白马村) and
the Sloth (石头寨村, whose only ledger problem is overdue); the reports open in
a spreadsheet with the expected rows; the rubric travels back down.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import Result, run_cli

NOW = {"VILLAGEBOOK_NOW": "2026-05-10T10:00:00+08:00"}
V1, V2 = ("320117100201", "白马村"), ("320117100202", "石头寨村")
TOWN, DISTRICT = ("320117100000", "白马镇"), ("320117000000", "溧水区")


def _sync_missing(home: Path) -> str | None:
    for command in (("export", "--help"), ("merge", "--help"), ("keys", "trust", "--help")):
        if run_cli(home, *command).code != 0:
            return "villagebook " + " ".join(command[:-1])
    return None


class Laptop:
    """One node's home, driven through the real command line."""

    def __init__(self, root: Path, name: str) -> None:
        self.home = root / name

    def __call__(self, *args: str, lang: str = "en") -> Result:
        result = run_cli(self.home, *args, lang=lang, env=NOW)
        assert result.code == 0, f"villagebook {' '.join(args)}: {result}"
        assert "Traceback" not in result.err
        return result

    @property
    def public_key(self) -> str:
        return str(self.home / "keys" / "node.pub")

    def dump(self) -> dict[str, Any]:
        document: dict[str, Any] = self("dump", "--json").json()
        return document

    def send(self, receiver: Laptop, *, to: str | None = None) -> None:
        """Export a bundle for `receiver` and merge it there (a USB stick in between)."""
        bundle = self("export", *(("--to", to) if to else ())).out.strip().splitlines()[-1]
        receiver("merge", str(self.home.parent / bundle if not Path(bundle).is_absolute()
                              else bundle))


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _deployment(tmp_path: Path) -> tuple[Laptop, Laptop, Laptop, Laptop]:
    """Two villages, their township and the district, keys exchanged as in a deployment."""
    missing = _sync_missing(tmp_path / "probe")
    if missing:
        pytest.skip(f"the sync command line is not there yet: `{missing}` is missing")
    village, lagging = Laptop(tmp_path, "baima"), Laptop(tmp_path, "shitouzhai")
    town, district = Laptop(tmp_path, "town"), Laptop(tmp_path, "district")
    village("init", "--role", "village", "--unit", V1[0], "--name", V1[1], "--parent", TOWN[0])
    lagging("init", "--role", "village", "--unit", V2[0], "--name", V2[1], "--parent", TOWN[0])
    town("init", "--role", "township", "--unit", TOWN[0], "--name", TOWN[1],
         "--parent", DISTRICT[0])
    district("init", "--role", "district", "--unit", DISTRICT[0], "--name", DISTRICT[1])
    for unit, laptop in ((V1, village), (V2, lagging)):  # the township enrolls its villages
        town("keys", "trust", laptop.public_key, "--unit", unit[0])
        laptop("keys", "trust", town.public_key, "--unit", TOWN[0])
    district("keys", "trust", town.public_key, "--unit", TOWN[0])
    town("keys", "trust", district.public_key, "--unit", DISTRICT[0])
    return village, lagging, town, district


def _season_opens(tmp_path: Path, village: Laptop, lagging: Laptop, town: Laptop) -> str:
    """白马村 submits a case; 石头寨村 logs a problem it then lets slip; both send up."""
    village("import", str(_write(tmp_path / "case.csv", [
        ["案例名称", "负责人", "创新方向", "创新举措"],
        ["一件事一次办", "王强", "营商环境中的流程再造", "一窗受理、帮办代办"]])))
    case_id: str = village.dump()["cases"][0]["id"]
    village("set", "case", case_id, "status=submitted")
    lagging("import", str(_write(tmp_path / "problem.csv", [
        ["问题名称", "问题类别", "问题来源", "发现时间", "紧急程度", "限期"],
        ["污水外溢", "群众最急需解决的问题", "走访", "2026-01-05", "高", "2026-03-01"]])))
    village.send(town)
    lagging.send(town)
    assert [q["id"] for q in town("queue", "--json").json()] == [case_id]
    return case_id


def test_a_returned_case_is_fixed_resubmitted_and_approved(tmp_path: Path) -> None:
    village, lagging, town, district = _deployment(tmp_path)
    case_id = _season_opens(tmp_path, village, lagging, town)

    # The township returns it with a comment, and the village sees the comment.
    town("review", case_id, "--return", "--comment", "请补充成效数据")
    town.send(village, to=V1[0])
    seen = village.dump()
    assert seen["cases"][0]["status"] == "returned"
    assert seen["reviews"][0]["comment"] == "请补充成效数据"
    assert village("queue", "--json").json() == []

    # Fixed and submitted again; approved; passed up to the district.
    village("set", "case", case_id, "results=办事时间由5天缩短到1天", "status=submitted")
    village.send(town)
    assert [q["id"] for q in town("queue", "--json").json()] == [case_id]
    town("review", case_id, "--approve")
    town.send(district)
    case = district.dump()["cases"][0]
    assert (case["status"], case["results"]) == ("approved", "办事时间由5天缩短到1天")
    reviews = {r["decision"]: r["comment"] for r in district.dump()["reviews"]}
    assert reviews == {"return": "请补充成效数据", "approve": None}


def test_the_district_scores_ranks_reports_and_sends_its_verdict_down(tmp_path: Path) -> None:
    village, lagging, town, district = _deployment(tmp_path)
    case_id = _season_opens(tmp_path, village, lagging, town)
    town("review", case_id, "--approve", "--comment", "做法可推广")
    town.send(district)
    assert district.dump()["cases"][0]["status"] == "approved"

    # Experts score; the rubric names one Cheetah and one Sloth.
    district("rubric", "set", "top_n=1", "bottom_n=1", "--period", "2026")
    district("score", case_id, "--expert", "王教授", "--score", "90")
    district("score", case_id, "--expert", "李研究员", "--score", "80")
    ranking = district("rank", "--period", "2026", "--json").json()
    assert ranking["cheetah"] == [V1[0]] and ranking["sloth"] == [V2[0]]
    winner, laggard = ranking["groups"][0]["units"]
    assert winner["unit_name"] == V1[1] and winner["breakdown"][0]["mean_case_score"] == 85
    assert laggard["breakdown"][3]["overdue"] == 1
    text = district("rank", "--period", "2026", lang="zh").out
    assert "猎豹奖" in text and "树懒奖" in text

    # Reports open in a spreadsheet and hold the expected rows.
    district("report", "--kind", "case", "--out", str(tmp_path / "cases.xlsx"), lang="zh")
    district("report", "--kind", "problem", "--out", str(tmp_path / "ledger.xlsx"), lang="zh")
    district("report", "--kind", "rank", "--period", "2026",
             "--out", str(tmp_path / "rank.xlsx"), lang="zh")
    cases = load_workbook(tmp_path / "cases.xlsx")["白马镇"]
    row = dict(zip([c.value for c in cases[1]], [c.value for c in cases[2]], strict=True))
    assert cases.max_row == 2
    assert (row["案例名称"], row["状态"], row["专家评分"]) == ("一件事一次办", "区级评定", 85)
    assert row["审核意见"] == "做法可推广"
    ledger = load_workbook(tmp_path / "ledger.xlsx")["白马镇"]
    problem = dict(zip([c.value for c in ledger[1]], [c.value for c in ledger[2]],
                       strict=True))
    assert ledger.max_row == 2 and (problem["问题名称"], problem["超期"]) == ("污水外溢", "是")
    board = load_workbook(tmp_path / "rank.xlsx").worksheets[0]
    awards = {r[3]: r[10] for r in board.iter_rows(min_row=2, values_only=True)}
    assert awards == {V1[1]: "猎豹奖", V2[1]: "树懒奖"}

    # The district's verdict travels down: the township sees the rubric, the village its score.
    district.send(town, to=TOWN[0])
    assert town("rubric", "show", "--period", "2026", "--json").json()["source"] == "district"
    town.send(village, to=V1[0])
    mine = village.dump()
    assert mine["cases"][0]["status"] == "scored"
    assert sorted(s["score"] for s in mine["scores"]) == [80, 90]
    # 石头寨村 hears the district's rubric too, but nothing of its neighbour's case: the
    # district's segment relayed down carries it, and a village keeps only its own business.
    town.send(lagging, to=V2[0])
    theirs = lagging.dump()
    assert all(case["unit_code"] == V2[0] for case in theirs["cases"])
    assert theirs["scores"] == []
    assert lagging("rubric", "show", "--period", "2026", "--json").json()["source"] == "district"
