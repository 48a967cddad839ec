"""Text quoted from a file in a message is shown, never obeyed: a cell holding a
clipboard write (ESC]52) or a screen wipe (ESC[2J) reaches the terminal as `\\x1b`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import VILLAGE, Result, init_village, run_cli
from tests.sync_helpers import CASE, Nodes, change_line, forge, state, three_nodes
from villagebook.services import cases

CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
WIPE = "\x1b[2J"
HEADER = "序号,案例名称,负责人,创新方向"


def _harmless(result: Result) -> None:
    both = result.out + result.err
    assert "\x1b" not in both and "\x07" not in both, both
    assert "\\x1b]52" in both or "\\x1b[2J" in both, both
    assert "Traceback" not in both


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_village(tmp_path / "baima")


def test_a_row_error_quoting_escapes_shows_them_as_text(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "cases.csv"
    source.write_text(f"{HEADER}\n1,积分制管理,王芳,{CLIPBOARD}{WIPE}\n", encoding="utf-8")
    result = run_cli(home, "import", str(source), lang="zh")
    assert result.code == 1, result
    assert "第 2 行" in result.err or "Row 2" in result.err, result.err
    _harmless(result)
    assert json.loads(run_cli(home, "dump", "--json", check=True).out)["cases"] == []


def test_an_ignored_column_named_with_escapes_is_shown_as_text(home: Path,
                                                                tmp_path: Path) -> None:
    source = tmp_path / "cases.csv"
    source.write_text(f"{HEADER},备注{WIPE}{CLIPBOARD}\n1,积分制管理,王芳,问题解决中的重点突破,x\n",
                      encoding="utf-8")
    result = run_cli(home, "import", str(source), lang="zh")
    assert result.code == 0, result
    _harmless(result)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with three_nodes(tmp_path) as found:
        cases.create_case(found.village, CASE)
        yield found


def test_a_bundle_naming_an_unknown_kind_with_escapes_is_refused_as_text(
        nodes: Nodes, tmp_path: Path) -> None:
    village = nodes.village
    line = change_line(entity=f"case{WIPE}{CLIPBOARD}",
                       record="0199aaaa-0000-7000-8000-0000000000e1",
                       hlc=1_790_000_000_000 << 16, device=village.node.device_id,
                       unit=VILLAGE[0], fields={"title": "x"})
    bundle = forge(village, tmp_path / "escapes.vbundle", line)
    before = state(nodes.township)
    result = run_cli(nodes.township.home, "merge", str(bundle), lang="zh")
    assert result.code == 1, result
    _harmless(result)
    assert state(nodes.township) == before
