"""A spreadsheet from a chat group is an attack until read: every hostile workbook is
refused in one line with nothing imported, and real government templates (a title row,
merged cells above the header, old Mac line endings) still import.

Every workbook here is hand-written XML in a zip (small files; no fixtures from elsewhere).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.conftest import VILLAGE, init_village, make_node, run_cli
from villagebook.domain.enums import Role
from villagebook.services import importer, spreadsheet_limits
from villagebook.services.importer import import_file

HEADER = ["序号", "案例名称", "负责人", "创新方向"]
ROW = ["1", "积分制管理", "王芳", "问题解决中的重点突破"]
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_village(tmp_path / "baima")


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_xml(rows: Iterable[list[str]], *, head: str = "", extra: str = "",
              dimension: str = "") -> str:
    """A worksheet of inline strings, one `<row>` per row (empty lists make empty rows)."""
    body = []
    for number, row in enumerate(rows, start=1):
        cells = "".join(f'<c r="{_column(col)}{number}" t="inlineStr"><is><t>{escape(text)}'
                        f"</t></is></c>" for col, text in enumerate(row, start=1) if text)
        body.append(f'<row r="{number}">{cells}</row>')
    size = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>{head}<worksheet xmlns="{_MAIN}">'
            f"{size}<sheetData>{''.join(body)}</sheetData>{extra}</worksheet>")


def workbook(path: Path, sheets: list[str], *, workbook_head: str = "") -> Path:
    """An .xlsx holding `sheets` (worksheet XML), as Excel lays one out."""
    names = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>'
                    for i in range(1, len(sheets) + 1))
    links = "".join(f'<Relationship Id="rId{i}" Target="worksheets/sheet{i}.xml" '
                    f'Type="{_DOC}/worksheet"/>' for i in range(1, len(sheets) + 1))
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="applicat'
            'ion/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/workb'
            'ook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetm'
            f'l.sheet.main+xml"/>{overrides}</Types>'))
        zf.writestr("_rels/.rels", (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}">'
            f'<Relationship Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"))
        zf.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?>{workbook_head}<workbook xmlns="{_MAIN}" '
            f'xmlns:r="{_DOC}"><sheets>{names}</sheets></workbook>'))
        zf.writestr("xl/_rels/workbook.xml.rels", (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}">{links}'
            "</Relationships>"))
        for number, xml in enumerate(sheets, start=1):
            zf.writestr(f"xl/worksheets/sheet{number}.xml", xml)
    return path


def assert_refused(home: Path, path: Path, *needles: str) -> str:
    """`import` exits 1 with one line naming the file, imports nothing, logs no crash."""
    result = run_cli(home, "import", str(path))
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and path.name in lines[0], result.err[:500]
    assert all(needle in lines[0] for needle in needles), lines[0]
    assert not (home / "error.log").exists()
    dumped = run_cli(home, "dump", "--json", check=True).json()
    assert dumped["cases"] == [] and dumped["problems"] == []
    return lines[0]


# --- what a real template looks like -----------------------------------------------------

def test_a_template_with_a_merged_title_row_imports_from_its_real_header(
    home: Path, tmp_path: Path,
) -> None:
    merged = '<mergeCells count="1"><mergeCell ref="A1:D1"/></mergeCells>'
    rows = [["白马村创新案例登记表（2026年）"],
            ["填报单位：白马村", "", "", "填报日期：2026-03-01"], HEADER, ROW,
            ["2", "共享菜园", "李四", "营商环境中的流程再造"]]
    path = workbook(tmp_path / "登记表.xlsx", [sheet_xml(rows, extra=merged)])
    result = run_cli(home, "import", str(path))
    assert result.code == 0, result
    assert "Took row 3 as the header row" in result.out
    assert "Imported 2 cases" in result.out
    titles = {c["title"] for c in run_cli(home, "dump", "--json", check=True).json()["cases"]}
    assert titles == {"积分制管理", "共享菜园"}


def test_a_sheet_claiming_a_million_rows_it_does_not_have_imports_at_once(
    home: Path, tmp_path: Path,
) -> None:
    path = workbook(tmp_path / "formatted.xlsx",
                    [sheet_xml([HEADER, ROW], dimension="A1:XFD1048576")])
    result = run_cli(home, "import", str(path))
    assert result.code == 0, result
    assert "Took row 1 as the header row" in result.out and "Imported 1 cases" in result.out


def test_csv_with_old_mac_line_endings_imports(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    lines = [",".join(HEADER), ",".join(ROW), '2,"共享\r菜园",李四,营商环境中的流程再造']
    path.write_bytes("\r".join(lines).encode("utf-8") + b"\r")
    result = run_cli(home, "import", str(path))
    assert result.code == 0, result
    titles = {c["title"] for c in run_cli(home, "dump", "--json", check=True).json()["cases"]}
    assert titles == {"积分制管理", "共享\r菜园"} or titles == {"积分制管理", "共享\n菜园"}


def test_the_row_limit_counts_data_rows_not_the_title_and_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer, "MAX_ROWS", 2)
    path = tmp_path / "two.csv"
    path.write_text("\n".join(["白马村案例", ",".join(HEADER), ",".join(ROW),
                               ",".join(["2", "共享菜园", "李四", "营商环境中的流程再造"])]),
                    encoding="utf-8")
    with make_node(tmp_path / "node", Role.VILLAGE, VILLAGE) as store:
        summary = import_file(store, path)
        assert (summary.imported, summary.header_row) == (2, 2)
        third = "\n3,村民议事会,赵六,营商环境中的流程再造"
        path.write_text(path.read_text(encoding="utf-8") + third, encoding="utf-8")
        with pytest.raises(importer.Refused, match="more than"):
            import_file(store, path)


# --- attacks -----------------------------------------------------------------------------

def test_a_zip_bomb_is_refused_before_openpyxl_inflates_it(home: Path, tmp_path: Path) -> None:
    path = workbook(tmp_path / "bomb.xlsx", [sheet_xml([HEADER, ROW])])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("xl/media/padding.xml", "w", force_zip64=True) as member:
        for _ in range(64):  # 64 MB of spaces: about 64 KB on the stick
            member.write(b" " * (1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    assert_refused(home, path, "zip bomb")


@pytest.mark.parametrize("where", ["sheet", "workbook"])
def test_xml_entity_expansion_is_refused(home: Path, tmp_path: Path, where: str) -> None:
    laughs = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                        for i in range(1, 10)).replace("&lol0;", "&lol;") + "]>")
    if where == "sheet":
        xml = sheet_xml([HEADER, ["1", "&lol9;", "王芳", "问题解决中的重点突破"]], head=laughs)
        path = workbook(tmp_path / "laughs.xlsx", [xml.replace("&amp;lol9;", "&lol9;")])
    else:
        path = workbook(tmp_path / "laughs.xlsx", [sheet_xml([HEADER, ROW])],
                        workbook_head=laughs)
    assert_refused(home, path, "XML entities")


def test_an_external_entity_is_refused_and_never_read(home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("不该被读到的内容", encoding="utf-8")
    head = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    xml = sheet_xml([HEADER, ["1", "XXE", "王芳", "问题解决中的重点突破"]], head=head)
    path = workbook(tmp_path / "xxe.xlsx", [xml.replace(">XXE<", ">&xxe;<")])
    line = assert_refused(home, path, "XML entities")
    assert "不该被读到" not in line


def test_defusedxml_is_in_effect_and_required(home: Path, tmp_path: Path) -> None:
    import openpyxl

    assert openpyxl.DEFUSEDXML is True
    path = workbook(tmp_path / "plain.xlsx", [sheet_xml([HEADER, ROW])])
    result = run_cli(home, "import", str(path), env={"OPENPYXL_DEFUSEDXML": "False"})
    assert result.code == 1 and "defusedxml" in result.err, result
    assert run_cli(home, "dump", "--json", check=True).json()["cases"] == []


@pytest.mark.parametrize("written", [True, False])
def test_a_million_empty_rows_are_refused(home: Path, tmp_path: Path, written: bool) -> None:
    """Written out as a million `<row/>`s, or implied by one row numbered 1,000,002."""
    empty = ("".join(f'<row r="{n}"/>' for n in range(3, 1_000_003)) if written
             else '<row r="1000002"><c r="A1000002" t="inlineStr"><is><t>x</t></is></c></row>')
    xml = sheet_xml([HEADER, ROW]).replace("</sheetData>", empty + "</sheetData>")
    path = workbook(tmp_path / "empty-rows.xlsx", [xml])
    assert_refused(home, path, str(spreadsheet_limits.MAX_SHEET_ROWS))


def test_a_ten_megabyte_cell_is_refused(home: Path, tmp_path: Path) -> None:
    huge = os.urandom(5 * 1024 * 1024).hex()  # does not compress: no zip bomb, just big
    path = workbook(tmp_path / "huge.xlsx",
                    [sheet_xml([HEADER, ["1", huge, "王芳", "问题解决中的重点突破"]])])
    assert_refused(home, path, "32767")
    csv_path = tmp_path / "huge.csv"
    csv_path.write_text(",".join(HEADER) + "\n" + ",".join(["1", huge, "王芳", "x"]) + "\n",
                        encoding="utf-8")
    assert_refused(home, csv_path)


def test_a_workbook_of_a_thousand_sheets_is_refused(home: Path, tmp_path: Path) -> None:
    sheets = [sheet_xml([HEADER, ROW])] + [sheet_xml([]) for _ in range(999)]
    path = workbook(tmp_path / "sheets.xlsx", sheets)
    assert_refused(home, path, "1000", str(spreadsheet_limits.MAX_SHEETS))
