"""`--help` and click's own usage errors in Chinese under --lang zh (English stays
English under --lang en)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_top_help_is_chinese(tmp_path: Path) -> None:
    done = run_cli(tmp_path / "h", "--help", lang="zh")
    assert done.code == 0
    assert "用法：" in done.out and "选项" in done.out and "命令" in done.out
    assert "不带命令时打开终端界面" in done.out
    assert "初始化本节点" in done.out  # init's short help in the list
    assert "Show this message and exit" not in done.out


def test_a_commands_help_and_its_options_are_chinese(tmp_path: Path) -> None:
    done = run_cli(tmp_path / "h", "search", "--help", lang="zh")
    assert "全文搜索" in done.out and "以 JSON 列表输出搜索结果" in done.out


@pytest.mark.parametrize(("args", "needle"), [
    (("search",), "缺少参数"),
    (("--bogus",), "没有选项"),
    (("init", "--role", "mayor", "--unit", "1", "--name", "x"), "的值无效"),
])
def test_usage_errors_are_chinese_and_exit_2(tmp_path: Path, args: tuple[str, ...],
                                            needle: str) -> None:
    done = run_cli(tmp_path / "h", *args, lang="zh")
    assert done.code == 2
    assert needle in done.err and "错误：" in done.err, done.err


def test_english_help_stays_english(tmp_path: Path) -> None:
    done = run_cli(tmp_path / "h", "--help", lang="en")
    assert "Usage:" in done.out and "Full-text search" in done.out
