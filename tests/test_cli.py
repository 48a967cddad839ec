"""The command line, run as users and scripts run it: real executable, real homes."""

from __future__ import annotations

import csv
import json
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import run_cli

VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    return home


def test_secretary_sets_up_a_node_and_cannot_do_it_twice(tmp_path: Path) -> None:
    home = tmp_path / "node"
    first = run_cli(home, *VILLAGE_ARGS, lang="zh")
    assert first.code == 0, first
    assert "白马村" in first.out and "签名密钥指纹" in first.out
    key = home / "keys" / "node.key"
    if sys.platform != "win32":  # Windows: the folder's ACL, not mode bits
        assert key.stat().st_mode & 0o777 == 0o600
    again = run_cli(home, *VILLAGE_ARGS, lang="zh")
    assert again.code == 1
    assert "已初始化" in again.err and "Traceback" not in again.err


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("init", "--role", "village", "--unit", "12AB", "--name", "x", "--parent",
          "320117100000"), 1, "12-digit"),
        (("init", "--role", "mayor", "--unit", "320117100201", "--name", "x"), 2, "mayor"),
        (("init", "--role", "village", "--unit", "320117100201", "--name", "x"), 1, "--parent"),
        (("init", "--role", "district", "--unit", "320117000000", "--name", "  "), 1,
         "required"),
    ],
)
def test_bad_init_input_gets_one_clear_line(tmp_path: Path, args: tuple[str, ...], code: int,
                                            needle: str) -> None:
    result = run_cli(tmp_path / "h", *args)
    assert result.code == code
    assert needle in result.err
    assert "Traceback" not in result.err + result.out


def test_commands_on_a_home_that_is_not_set_up_say_so(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "empty", "dump", "--json", lang="zh")
    assert result.code == 1
    assert "尚未初始化" in result.err


def test_demo_is_deterministic_so_two_nodes_print_the_same_bytes(tmp_path: Path) -> None:
    dumps = []
    for name in ("a", "b"):
        home = tmp_path / name
        run_cli(home, *VILLAGE_ARGS, check=True)
        made = run_cli(home, "demo", "--cases", "15", "--problems", "20", "--seed", "42")
        assert made.code == 0, made
        dumps.append(run_cli(home, "dump", "--json", check=True).out)
    assert dumps[0] == dumps[1]
    document = json.loads(dumps[0])
    assert {"units", "cases", "problems", "followups", "reviews", "scores"} <= set(document)
    assert len(document["cases"]) == 15 and len(document["problems"]) == 20
    ids = [case["id"] for case in document["cases"]]
    assert ids == sorted(ids)
    statuses = {problem["status"] for problem in document["problems"]}
    assert len(statuses) >= 3
    again = run_cli(tmp_path / "a", "demo", "--seed", "42")
    assert again.code == 1, "the same seed twice would duplicate records"


def test_township_demo_fills_its_villages(tmp_path: Path) -> None:
    home = tmp_path / "town"
    run_cli(home, "init", "--role", "township", "--unit", "320117100000", "--name", "白马镇",
            "--parent", "320117000000", check=True)
    run_cli(home, "demo", "--cases", "30", "--problems", "10", check=True)
    document = run_cli(home, "dump", "--json", check=True).json()
    villages = {u["code"] for u in document["units"] if u["kind"] == "village"}
    assert len(villages) == 5
    assert {case["unit_code"] for case in document["cases"]} <= villages


def test_search_finds_chinese_of_any_length_and_prints_json(home: Path) -> None:
    run_cli(home, "demo", "--cases", "40", "--problems", "40", check=True)
    document = run_cli(home, "dump", "--json", check=True).json()
    title = document["cases"][0]["title"]
    for query in (title[:1], title[:2], title[1:4], title):
        hits = run_cli(home, "search", query, "--json", "--limit", "100", check=True).json()
        assert hits, query
        assert all(query in hit["title"] or hit["kind"] in ("case", "problem") for hit in hits)
        assert {"kind", "id", "title"} <= set(hits[0])
    exact = run_cli(home, "search", title, "--json", "--kind", "case", check=True).json()
    assert exact[0]["id"] == document["cases"][0]["id"] or exact[0]["title"] == title
    nothing = run_cli(home, "search", "不存在的词语", "--json", check=True)
    assert nothing.json() == []


def test_set_corrects_a_field_and_refuses_bad_values_without_changing_anything(
    home: Path,
) -> None:
    run_cli(home, "demo", "--cases", "3", "--problems", "0", check=True)
    document = run_cli(home, "dump", "--json", check=True).json()
    case = next(c for c in document["cases"] if c["status"] in ("draft", "returned"))
    ok = run_cli(home, "set", "case", case["id"], "title=新的标题", "负责人=李四")
    assert ok.code == 0, ok
    after = run_cli(home, "dump", "--json", check=True).json()
    changed = next(c for c in after["cases"] if c["id"] == case["id"])
    assert changed["title"] == "新的标题" and changed["lead_person"] == "李四"
    for bad in (("start_date=明天",), ("direction=随便",), ("titel=x",), ("novalue",)):
        result = run_cli(home, "set", "case", case["id"], *bad, lang="zh")
        assert result.code in (1, 2), bad
        assert result.err.strip() and "Traceback" not in result.err
    assert run_cli(home, "dump", "--json", check=True).json() == after


def test_delete_removes_a_record_for_good(home: Path) -> None:
    run_cli(home, "demo", "--cases", "2", "--problems", "2", check=True)
    document = run_cli(home, "dump", "--json", check=True).json()
    victim = document["problems"][0]["id"]
    assert run_cli(home, "delete", "problem", victim).code == 0
    remaining = run_cli(home, "dump", "--json", check=True).json()["problems"]
    assert victim not in {p["id"] for p in remaining}
    missing = run_cli(home, "delete", "problem", victim)
    assert missing.code == 1 and victim in missing.err


def _write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_import_a_chinese_ledger_from_excel(home: Path, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["序号", "问题名称", "问题类别", "问题来源", "发现时间", "紧急程度", "责任人",
                  "限期"])
    sheet.append([1, "村口路灯不亮", "群众最急需解决的问题", "群众反映", "2025-03-02", "高",
                  "张三", "2025-04-01"])
    sheet.append([2, "停车难", "最制约发展的问题", "走访", "2025/3/5", "中", "李四", None])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    result = run_cli(home, "import", str(path), lang="zh")
    assert result.code == 0, result
    assert "已导入 2 个问题" in result.out and "序号" in result.out
    titles = {p["title"] for p in run_cli(home, "dump", "--json", check=True).json()["problems"]}
    assert titles == {"村口路灯不亮", "停车难"}


def test_a_damaged_spreadsheet_is_refused_in_one_line(home: Path, tmp_path: Path) -> None:
    noise = tmp_path / "noise.xlsx"
    noise.write_bytes(bytes(range(256)) * 8)
    book = Workbook()
    book.active.append(["案例名称", "负责人", "创新方向"])
    book.active.append(["好案例XYZ", "王五", "问题解决中的重点突破"])
    book.save(tmp_path / "good.xlsx")
    bad_xml = tmp_path / "bad-xml.xlsx"  # a character reference XML forbids, in the sheet
    with zipfile.ZipFile(tmp_path / "good.xlsx") as source, \
            zipfile.ZipFile(bad_xml, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item).replace(b"XYZ", b"&#xD800;"))
    for path in (noise, bad_xml):
        result = run_cli(home, "import", str(path), lang="zh")
        assert result.code == 1, result
        assert result.err.strip() == f"{path.name} 不是可读取的 .xlsx 文件（" \
            f"{'BadZipFile' if path is noise else 'ParseError'}）", result
    assert not (home / "error.log").exists()
    assert run_cli(home, "dump", "--json", check=True).json()["cases"] == []


def test_import_reports_every_bad_row_and_imports_nothing(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    _write_csv(path, [
        ["案例名称", "负责人", "创新方向", "开始时间"],
        ["好案例", "王五", "问题解决中的重点突破", "2025-01-01"],
        ["", "王五", "问题解决中的重点突破", "2025-01-01"],
        ["坏方向", "王五", "随便", "2025-01-01"],
        ["坏日期", "王五", "营商环境中的流程再造", "2025-13-45"],
    ], encoding="gb18030")
    result = run_cli(home, "import", str(path), lang="zh")
    assert result.code == 1
    for row in ("第 3 行", "第 4 行", "第 5 行"):
        assert row in result.err
    assert "第 2 行" not in result.err
    assert run_cli(home, "dump", "--json", check=True).json()["cases"] == []


@pytest.mark.parametrize("name, content", [
    ("notes.txt", b"hello"),
    ("broken.xlsx", b"PK\x03\x04 not really a zip"),
    ("empty.csv", b""),
])
def test_unreadable_files_are_refused_cleanly(home: Path, tmp_path: Path, name: str,
                                              content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli(home, "import", str(path))
    assert result.code == 1 and result.err.strip()
    assert "Traceback" not in result.err


def test_user_data_never_reaches_the_terminal_as_escape_sequences(home: Path) -> None:
    run_cli(home, "demo", "--cases", "8", "--problems", "0", check=True)
    drafts = [case["id"] for case in run_cli(home, "dump", "--json", check=True).json()["cases"]
              if case["status"] == "draft"]  # a case its unit may still edit
    case_id = drafts[0]
    evil = "\x1b]8;;file:///etc\x1b\\点我\x1b]8;;\x1b\\[red]x[/]"
    run_cli(home, "set", "case", case_id, f"title={evil}", check=True)
    listing = run_cli(home, "search", "点我", check=True).out
    assert "\x1b" not in listing and "\\x1b" in listing and "[red]x[/]" in listing
    stored = {case["id"]: case["title"]
              for case in run_cli(home, "dump", "--json", check=True).json()["cases"]}
    assert stored[case_id] == evil


def test_the_home_can_come_from_the_environment(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "VILLAGEBOOK_HOME": str(tmp_path / "env-home"),
           "PYTHONIOENCODING": "utf-8"}
    subprocess.run([sys.executable, "-m", "villagebook", "--lang", "en", *VILLAGE_ARGS],
                   check=True, capture_output=True, env=env)
    assert (tmp_path / "env-home" / "villagebook.db").is_file()
    listing = subprocess.run([sys.executable, "-m", "villagebook", "dump", "--json"],
                             capture_output=True, text=True, encoding="utf-8", env=env)
    assert json.loads(listing.stdout)["units"][0]["name"] == "白马村"


def test_an_argument_that_is_not_utf8_gets_a_clear_message(home: Path) -> None:
    # Bytes that are not UTF-8 (a GBK terminal, say) reach Python as lone surrogates.
    before = run_cli(home, "dump", "--json", check=True).out
    for lang, words in (("en", "is not valid text"), ("zh", "不是有效的文字")):
        result = run_cli(home, "search", "白马\udcff", lang=lang)
        assert result.code == 2, result
        assert f"白马\\xff {words}" in result.err
        assert "Traceback" not in result.err
    assert not (home / "error.log").exists()
    assert run_cli(home, "dump", "--json", check=True).out == before


def test_importing_a_folder_says_to_name_a_file_in_it(home: Path, tmp_path: Path) -> None:
    result = run_cli(home, "import", str(tmp_path), lang="zh")
    assert result.code == 1
    assert result.err.strip() == f"{tmp_path} 是文件夹，请指定其中的 .xlsx 或 .csv 文件"
