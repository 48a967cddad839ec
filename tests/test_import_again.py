"""Running the same import twice does not double the ledger: the second run is refused
in one line saying how many rows were imported before, unless `--again`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import init_village, run_cli

HEADER = "序号,案例名称,负责人,创新方向"
ROWS = ["1,积分制管理,王芳,问题解决中的重点突破", "2,村民议事会,李强,问题解决中的重点突破"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_village(tmp_path / "baima")


def _ledger(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _titles(home: Path) -> list[str]:
    cases = json.loads(run_cli(home, "dump", "--json", check=True).out)["cases"]
    return sorted(case["title"] for case in cases)


@pytest.mark.parametrize(("lang", "needle"), [("en", "2 of the 2 rows of cases.csv were "
                                                     "imported before"),
                                              ("zh", "有 2 行以前已导入过")])
def test_the_same_file_imported_twice_is_refused(home: Path, tmp_path: Path, lang: str,
                                                 needle: str) -> None:
    source = _ledger(tmp_path, "cases.csv", ROWS)
    run_cli(home, "import", str(source), check=True)
    before = run_cli(home, "dump", "--json", check=True).out
    result = run_cli(home, "import", str(source), lang=lang)
    assert result.code == 1, result
    assert result.err.strip().splitlines() == [result.err.strip()]
    assert needle in result.err and "--again" in result.err
    assert run_cli(home, "dump", "--json", check=True).out == before


def test_a_file_with_some_rows_imported_before_is_refused_whole(home: Path,
                                                                tmp_path: Path) -> None:
    run_cli(home, "import", str(_ledger(tmp_path, "first.csv", ROWS[:1])), check=True)
    result = run_cli(home, "import", str(_ledger(tmp_path, "both.csv", ROWS)))
    assert result.code == 1, result
    assert "1 of the 2 rows of both.csv" in result.err
    assert _titles(home) == ["积分制管理"]


def test_again_imports_the_rows_once_more(home: Path, tmp_path: Path) -> None:
    source = _ledger(tmp_path, "cases.csv", ROWS)
    run_cli(home, "import", str(source), check=True)
    run_cli(home, "import", str(source), "--again", check=True)
    assert _titles(home) == ["村民议事会", "村民议事会", "积分制管理", "积分制管理"]


def test_the_same_rows_in_another_file_with_other_numbers_are_still_the_same_rows(
        home: Path, tmp_path: Path) -> None:
    run_cli(home, "import", str(_ledger(tmp_path, "a.csv", ROWS)), check=True)
    renumbered = [row.replace("1,", "7,", 1).replace("2,", "8,", 1) for row in ROWS]
    result = run_cli(home, "import", str(_ledger(tmp_path, "b.csv", renumbered[::-1])))
    assert result.code == 1 and "2 of the 2 rows" in result.err, result
