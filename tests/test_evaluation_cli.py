"""Review, score, rubric, rank, model, adopt and report, run as scripts run them."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import run_cli

NOW = {"VILLAGEBOOK_NOW": "2026-11-20T10:00:00+08:00"}
TOWN_ARGS = ("init", "--role", "township", "--unit", "320117100000", "--name", "白马镇",
             "--parent", "320117000000")
DISTRICT_ARGS = ("init", "--role", "district", "--unit", "320117000000", "--name", "溧水区")


def cli(home: Path, *args: str, lang: str = "en", check: bool = False) -> Any:
    return run_cli(home, *args, lang=lang, env=NOW, check=check)


@pytest.fixture(scope="module")
def district_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A district with Lishui's demo records and two scored cases (built once; tests
    that write to it touch other cases than these two)."""
    home = tmp_path_factory.mktemp("evaluation") / "district"
    cli(home, *DISTRICT_ARGS, check=True)
    cli(home, "demo", "--cases", "80", "--problems", "120", "--seed", "5", check=True)
    for case, mark in zip(_approved(home)[1:3], ("95", "85"), strict=True):
        cli(home, "score", case["id"], "--expert", "周教授", "--score", mark, check=True)
    return home


def _approved(home: Path) -> list[dict[str, Any]]:
    document = cli(home, "dump", "--json", check=True).json()
    return [c for c in document["cases"] if c["status"] == "approved"]


def test_township_returns_then_approves_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "town"
    cli(home, *TOWN_ARGS, check=True)
    cli(home, "demo", "--cases", "20", "--problems", "5", check=True)
    queue = cli(home, "queue", "--json", check=True).json()
    assert queue and {"id", "unit_code", "title"} <= set(queue[0])
    case_id = queue[0]["id"]

    no_comment = cli(home, "review", case_id, "--return", lang="zh")
    assert no_comment.code == 1 and "退回" in no_comment.err
    assert "Traceback" not in no_comment.err
    neither = cli(home, "review", case_id)
    assert neither.code == 2

    returned = cli(home, "review", case_id, "--return", "--comment", "请补充成效数据")
    assert returned.code == 0, returned
    assert case_id not in {q["id"] for q in cli(home, "queue", "--json", check=True).json()}
    document = cli(home, "dump", "--json", check=True).json()
    review = next(r for r in document["reviews"] if r["case_id"] == case_id)
    assert review["decision"] == "return" and review["comment"] == "请补充成效数据"
    assert review["reviewer"] == "白马镇" and review["date"] == "2026-11-20"

    second = queue[1]["id"]
    approved = cli(home, "review", second, "--approve", "--reviewer", "张科长", lang="zh")
    assert approved.code == 0 and second in approved.out
    again = cli(home, "review", second, "--approve", lang="zh")
    assert again.code == 1 and again.err.count("\n") == 1

    overview = cli(home, "ledgers", "--json", check=True).json()
    flags = [row["overdue"] for row in overview]
    assert flags == sorted(flags, reverse=True)


def test_experts_score_and_bad_scores_change_nothing(district_home: Path) -> None:
    case_id = _approved(district_home)[0]["id"]
    before = cli(district_home, "dump", "--json", check=True).out
    for bad in ("101", "-5", "很好"):
        result = cli(district_home, "score", case_id, "--expert", "王教授", "--score", bad,
                     lang="zh")
        assert result.code == 1 and result.err.strip(), bad
        assert "Traceback" not in result.err
    assert cli(district_home, "dump", "--json", check=True).out == before

    first = cli(district_home, "score", case_id, "--expert", "王教授", "--score", "90")
    assert first.code == 0, first
    bad_day = cli(district_home, "score", case_id, "--expert", "李研究员", "--score", "70",
                  "--date", "昨天", lang="zh")
    assert bad_day.code == 1 and "日期" in bad_day.err
    second = cli(district_home, "score", case_id, "--expert", "李研究员", "--score", "70",
                 "--comment", "数据翔实", "--date", "2026年11月8日", lang="zh")
    assert "80 分" in second.out and "最低 70" in second.out
    document = cli(district_home, "dump", "--json", check=True).json()
    assert next(c for c in document["cases"] if c["id"] == case_id)["status"] == "scored"
    assert sorted((s["expert"], s["date"]) for s in document["scores"]
                  if s["case_id"] == case_id) == [("李研究员", "2026-11-08"),
                                                   ("王教授", "2026-11-20")]


def test_rank_prints_awards_with_their_breakdown(district_home: Path) -> None:
    assert cli(district_home, "rubric", "set", "top_n=2", "bottom_n=2", "--period", "2026",
               check=True).code == 0
    shown = cli(district_home, "rubric", "show", "--period", "2026", "--json", check=True)
    assert shown.json()["top_n"] == 2 and shown.json()["source"] == "district"
    bad = cli(district_home, "rubric", "set", "top_n=很多", "--period", "2026", lang="zh")
    assert bad.code == 1 and "top_n" not in bad.out

    document = cli(district_home, "rank", "--period", "2026", "--json", check=True).json()
    assert {"period", "as_of", "rubric", "groups", "cheetah", "sloth"} <= set(document)
    assert [g["kind"] for g in document["groups"]] == ["village", "section"]
    villages = document["groups"][0]["units"]
    assert villages[0]["award"] == "cheetah" and villages[0]["total"] > 0
    assert len(document["cheetah"]) >= 1 and len(document["sloth"]) >= 1
    for unit in villages:
        assert round(sum(line["points"] for line in unit["breakdown"]), 2) == unit["total"]
    text = cli(district_home, "rank", "--period", "2026", lang="zh", check=True).out
    assert "猎豹奖" in text and "树懒奖" in text and "专家评分" in text

    wrong = cli(district_home, "rank", "--period", "明年", lang="zh")
    assert wrong.code == 1 and "考评期" in wrong.err


def test_reports_open_in_a_spreadsheet_with_dates_frozen_headers_and_filters(
    district_home: Path, tmp_path: Path,
) -> None:
    cases_xlsx, problems_xlsx = tmp_path / "案例.xlsx", tmp_path / "台账.xlsx"
    rank_csv, rank_xlsx = tmp_path / "rank.csv", tmp_path / "rank.xlsx"
    cli(district_home, "report", "--kind", "case", "--out", str(cases_xlsx), lang="zh",
        check=True)
    made = cli(district_home, "report", "--kind", "problem", "--out", str(problems_xlsx),
               lang="zh")
    assert made.code == 0 and "120" in made.out
    cli(district_home, "report", "--kind", "rank", "--period", "2026", "--out", str(rank_csv),
        check=True)
    cli(district_home, "report", "--kind", "rank", "--period", "2026", "--out",
        str(rank_xlsx), lang="zh", check=True)

    book = load_workbook(problems_xlsx)
    assert len(book.sheetnames) == 8 and "白马镇" in book.sheetnames
    assert sum(sheet.max_row - 1 for sheet in book.worksheets) == 120
    sheet = book["白马镇"]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:4] == ["镇/街道", "单位代码", "单位名称", "问题名称"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    deadline = sheet.cell(row=2, column=headers.index("限期") + 1)
    assert isinstance(deadline.value, dt.datetime) and deadline.number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions["D"].width > sheet.column_dimensions["B"].width

    assert sum(s.max_row - 1 for s in load_workbook(cases_xlsx).worksheets) == 80
    ranking = load_workbook(rank_xlsx)
    assert ranking.sheetnames == ["村（社区）", "科室站所"]
    assert "猎豹奖" in [c.value for c in ranking["村（社区）"]["K"]]

    raw = rank_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][:3] == ["Group", "Period", "Rank"] and "Cheetah Award" in raw.decode()


def test_report_refuses_unwritable_paths_and_unknown_formats(district_home: Path,
                                                             tmp_path: Path) -> None:
    missing = cli(district_home, "report", "--kind", "case", "--out",
                  str(tmp_path / "no" / "such" / "r.xlsx"), lang="zh")
    assert missing.code == 1 and "无法写入" in missing.err and "文件夹不存在" in missing.err
    assert "Traceback" not in missing.err
    text = cli(district_home, "report", "--kind", "case", "--out", str(tmp_path / "r.pdf"))
    assert text.code == 1 and ".xlsx" in text.err
    folder = cli(district_home, "report", "--kind", "case", "--out", str(tmp_path))
    assert folder.code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_model_cases_are_marked_and_listed(district_home: Path) -> None:
    case_id = _approved(district_home)[-1]["id"]
    marked = cli(district_home, "model", "mark", case_id, "--citation", "流程再造成效显著",
                 lang="zh")
    assert marked.code == 0 and "示范案例" in marked.out
    listed = cli(district_home, "model", "list", "--json", check=True).json()
    assert [m["id"] for m in listed] == [case_id] and listed[0]["adoptions"] == 0
    own = cli(district_home, "adopt", case_id, "--lead", "陈书记", lang="zh")
    assert own.code == 1
    assert cli(district_home, "model", "withdraw", case_id, check=True).code == 0
    assert cli(district_home, "model", "list", "--json", check=True).json() == []
