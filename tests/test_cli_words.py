"""Chinese messages speak the user's words: status, field and choice labels from
`domain/fields.py`, never the stable English codes stored underneath."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")
CODE = re.compile(r"[a-z_]{4,}")


@pytest.fixture(scope="module")
def village(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("words") / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    run_cli(home, "demo", "--cases", "3", "--problems", "30", check=True)
    document = run_cli(home, "dump", "--json", check=True).json()
    submitted = next(c for c in document["cases"] if c["status"] == "submitted")
    solving = next(p for p in document["problems"] if p["status"] == "resolving")
    return home, {"case": submitted["id"], "problem": solving["id"]}


def _said(home: Path, *args: str) -> str:
    done = run_cli(home, *args, lang="zh")
    return done.out + done.err


def test_changed_fields_are_named_by_their_labels(village: tuple[Path, dict[str, str]]) -> None:
    home, ids = village
    said = _said(home, "set", "problem", ids["problem"], "responsible_person=刘䶮",
                 "title=路灯问题")
    assert said.strip() == "已修改：责任人、问题名称", said


@pytest.mark.parametrize(("args", "needle"), [
    (("set", "case", "{case}", "title=新名称"), "“已报送”"),
    (("set", "problem", "{problem}", "category=xx"), "营商环境、其他"),
    (("set", "problem", "{problem}", "status=closed"), "“已销号”"),
])
def test_refusals_use_labels_not_codes(village: tuple[Path, dict[str, str]],
                                       args: tuple[str, ...], needle: str) -> None:
    home, ids = village
    said = _said(home, *(a.format(**ids) for a in args))
    assert needle in said, said
    assert not CODE.findall(said), said
