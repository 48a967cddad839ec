"""A village plants formulas in its records; the township's and district's reports keep
them inert text, in .xlsx and .csv, from the command line and from the app.

Every payload is read back from the written file: openpyxl for .xlsx (the cell is a
string cell holding exactly what was typed, and no sheet holds a formula at all), the
csv module for .csv (the cell is the text behind a leading `'`).
"""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import TOWNSHIP, VILLAGE, make_node, run_cli
from tests.pilot import Harness, settle
from tests.sync_helpers import change_line, forge, send, three_nodes
from villagebook.domain.enums import Role
from villagebook.services import cases, problems, records
from villagebook.services.cells import csv_value, inert_text, typed_text
from villagebook.store.node import NOW_ENV, Store
from villagebook.sync.merge import merge_file

#: What a hostile (or careless) village types, by name.
PAYLOADS = {
    "equals": "=1+1",
    "plus": "+1+1",
    "minus": "-1+1",
    "at": "@SUM(1,1)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "fullwidth": "＝1+1",
    "dde": "=cmd|' /C calc'!A0",
    "hyperlink": '=HYPERLINK("http://x.invalid","点我")',
}
#: Text that a service keeps as typed (validation strips leading TAB and CR, and a merge
#: refuses them too, so those two are checked on the cell writers alone).
TYPED = {name: text for name, text in PAYLOADS.items() if name not in ("tab", "cr")}


def _plant_cases(village: Any) -> None:
    """One case per typed payload (title and lead person), then TAB and CR by bundle text."""
    for name, text in TYPED.items():
        cases.create_case(village, {"title": text, "lead_person": text, "contact": text,
                                    "direction": "process", "start_date": "2026-03-01",
                                    "measures": name})
    problems.create_problem(village, {
        "title": PAYLOADS["dde"], "description": PAYLOADS["hyperlink"], "category": "urgent",
        "source": "visit", "reported_date": "2026-01-05", "urgency": "high",
        "responsible_person": PAYLOADS["at"], "deadline": "2026-12-01"})


def _bundle_with_raw_text(village: Any, folder: Path) -> Path:
    """A bundle, signed by the village's real key, whose case text starts with TAB and CR."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = b"".join(
        change_line(entity="case", record=f"0199aaaa-0000-7000-8000-00000000000{index}",
                    hlc=village.tick(), device=village.node.device_id, unit=VILLAGE[0],
                    fields={"unit_code": VILLAGE[0], "title": PAYLOADS[name],
                            "lead_person": PAYLOADS[name], "direction": "process",
                            "status": "draft"})
        for index, name in enumerate(("tab", "cr"), start=1))
    return forge(village, folder / "raw.vbundle", lines, receiver=TOWNSHIP[0], seq=99)


def _xlsx_strings(path: Path) -> list[Any]:
    """Every cell of every sheet, after checking that no sheet of the file holds a formula."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in zf.read(name) and b"<f " not in zf.read(name), name
    book = load_workbook(path)  # not data_only: a formula would stay a formula here
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    return cells


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _assert_inert(xlsx: Path, csv_path: Path, expected: set[str]) -> None:
    cells = _xlsx_strings(xlsx)
    strings = {cell.value for cell in cells if cell.data_type == "s"}
    # XML reads a bare CR as LF (its line-end rule); the cell is text either way.
    shown = {text.replace("\r", "\n") for text in expected}
    assert shown <= strings, shown - strings
    flat = {value for row in _csv_rows(csv_path) for value in row}
    assert {"'" + text for text in expected} <= flat, expected
    assert not expected & flat  # none of them bare, where Excel would read a formula


def test_a_villages_formulas_stay_text_in_the_townships_reports(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        _plant_cases(n.village)
        assert merge_file(n.township, send(n.village, tmp_path / "stick")).status == "merged"
        # Text that starts with TAB or CR is not in the form the app stores: a village's
        # own program that signs it anyway is refused before any report could hold it.
        raw = _bundle_with_raw_text(n.village, tmp_path / "stick2")
        result = merge_file(n.township, raw)
        assert (result.status, result.reason) == ("rejected", "invalid_value"), result.error
        home = n.township.home
    out = {name: tmp_path / f"{name}" for name in ("c.xlsx", "c.csv", "p.xlsx", "p.csv")}
    for name, path in out.items():
        kind = "case" if name.startswith("c") else "problem"
        run_cli(home, "report", "--kind", kind, "--out", str(path), lang="zh", check=True)
    _assert_inert(out["c.xlsx"], out["c.csv"], set(TYPED.values()))
    _assert_inert(out["p.xlsx"], out["p.csv"],
                  {PAYLOADS["dde"], PAYLOADS["hyperlink"], PAYLOADS["at"]})


def test_real_numbers_and_dates_stay_numbers_and_dates(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        _plant_cases(n.village)
        problem = problems.create_problem(n.village, {
            "title": "路灯不亮", "category": "urgent", "source": "visit",
            "reported_date": "2026-01-05", "urgency": "high", "deadline": "2026-12-01"})
        problems.add_followup(n.village, problem, "-已联系供电所", "王芳")
        assert merge_file(n.township, send(n.village, tmp_path / "stick")).status == "merged"
        home = n.township.home
    xlsx, csv_path = tmp_path / "p.xlsx", tmp_path / "p.csv"
    run_cli(home, "report", "--kind", "problem", "--out", str(xlsx), lang="zh", check=True)
    run_cli(home, "report", "--kind", "problem", "--out", str(csv_path), lang="zh", check=True)
    sheet = load_workbook(xlsx).worksheets[0]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[header.index("问题名称")].value
               == "路灯不亮")
    assert row[header.index("发现时间")].value == dt.datetime(2026, 1, 5)
    assert row[header.index("进展记录数")].value == 1
    assert row[header.index("进展记录数")].data_type == "n"
    lines = _csv_rows(csv_path)
    found = next(line for line in lines if "路灯不亮" in line)
    assert found[lines[0].index("发现时间")] == "2026-01-05"
    assert found[lines[0].index("进展记录数")] == "1"


@pytest.mark.parametrize("text", [*PAYLOADS.values(), "＋1", "－1", "＠x"])
def test_every_formula_trigger_gets_an_apostrophe_in_csv(text: str) -> None:
    assert inert_text(text) == "'" + text
    assert csv_value(text) == "'" + text
    assert typed_text(inert_text(text)) == text


@pytest.mark.parametrize("value", ["一件事一次办", "1+1", "王芳 =1", "", 3, -2.5, None])
def test_plain_text_and_numbers_are_left_alone(value: Any) -> None:
    assert csv_value(value) == ("" if value is None else value)


# --- from the app ------------------------------------------------------------------------

@pytest.fixture
def district_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """溧水区 holding an approved case and a problem of 白马村 full of formulas."""
    monkeypatch.setenv(NOW_ENV, "2026-06-01T10:00:00+08:00")
    home = tmp_path / "district"
    with make_node(home, Role.DISTRICT, ("320117000000", "溧水区", None)) as store:
        records.bulk_create(store, "unit", [
            (TOWNSHIP[0], TOWNSHIP[0], {"code": TOWNSHIP[0], "name": TOWNSHIP[1],
                                        "kind": "township", "parent_code": TOWNSHIP[2]}),
            (VILLAGE[0], VILLAGE[0], {"code": VILLAGE[0], "name": VILLAGE[1],
                                      "kind": "village", "parent_code": VILLAGE[2]})])
        records.bulk_create(store, "case", [
            (f"0199bbbb-0000-7000-8000-00000000000{index}", VILLAGE[0], {
                "unit_code": VILLAGE[0], "title": text, "lead_person": text,
                "direction": "process", "status": "approved"})
            for index, text in enumerate(PAYLOADS.values())])
        records.bulk_create(store, "problem", [
            (f"0199cccc-0000-7000-8000-00000000000{index}", VILLAGE[0], {
                "unit_code": VILLAGE[0], "title": text, "responsible_person": text,
                "category": "urgent", "source": "visit", "reported_date": "2026-01-05",
                "urgency": "high", "deadline": "2026-12-01", "status": "open"})
            for index, text in enumerate(PAYLOADS.values())])
    return home


async def test_the_apps_report_actions_write_formulas_as_text(district_home: Path) -> None:
    from villagebook.screens.scoring_screen import ScoringScreen
    from villagebook.screens.township_ledgers import TownshipLedgersScreen

    for make, kind in ((lambda: ScoringScreen(district_home, expert="赵教授"), "case"),
                       (lambda: TownshipLedgersScreen(district_home), "problem")):
        app = Harness(make)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot)
        written = district_home / "reports" / f"{kind}-2026-06-01.xlsx"
        strings = {cell.value for cell in _xlsx_strings(written) if cell.data_type == "s"}
        # Stripped on the way in (a service keeps no leading TAB or CR), inert on the way out.
        assert {text.strip() for text in PAYLOADS.values()} <= strings, kind


def test_a_csv_report_imported_again_keeps_what_was_typed(tmp_path: Path) -> None:
    home = tmp_path / "baima"
    with make_node(home, Role.VILLAGE, VILLAGE) as village:
        cases.create_case(village, {"title": "=1+1", "lead_person": "@王芳",
                                    "direction": "process"})
    report = tmp_path / "cases.csv"
    run_cli(home, "report", "--kind", "case", "--out", str(report), lang="zh", check=True)
    again = tmp_path / "again"
    with make_node(again, Role.VILLAGE, VILLAGE):
        pass
    result = run_cli(again, "import", str(report), lang="zh")
    assert result.code == 0, result
    dumped = run_cli(again, "dump", "--json", check=True).json()["cases"]
    assert [(c["title"], c["lead_person"]) for c in dumped] == [("=1+1", "@王芳")]


def test_control_characters_do_not_break_the_report(tmp_path: Path) -> None:
    """One ESC or BEL pasted in a village made the district's whole .xlsx report fail."""
    home = tmp_path / "baima"
    with make_node(home, Role.VILLAGE, VILLAGE) as village:
        cases.create_case(village, {"title": "清屏\x1b[2J响铃\x07", "lead_person": "\x9b王芳",
                                    "direction": "process"})
    xlsx, csv_path = tmp_path / "c.xlsx", tmp_path / "c.csv"
    for out in (xlsx, csv_path):
        made = run_cli(home, "report", "--kind", "case", "--out", str(out), lang="zh")
        assert made.code == 0, made
    expected = {"清屏\ufffd[2J响铃\ufffd", "\ufffd王芳"}
    assert expected <= {cell.value for cell in _xlsx_strings(xlsx)}
    assert expected <= {value for row in _csv_rows(csv_path) for value in row}


def test_a_township_named_with_control_characters_still_gets_a_readable_sheet(
    district_home: Path,
) -> None:
    """The sheet is named after the township: an ESC in its name made the file corrupt."""
    with Store(district_home) as store:
        records.update_record(store, "unit", TOWNSHIP[0], {"name": "=白马镇\x1b[31m"},
                              owner=TOWNSHIP[0])
    out = district_home / "cases.xlsx"
    run_cli(district_home, "report", "--kind", "case", "--out", str(out), check=True)
    assert load_workbook(out).sheetnames == ["=白马镇\ufffd_31m"]
