"""Output a script can trust: an old Chinese console (GBK), PowerShell's UTF-16 key
files, a reader that stops early. Real executable, real homes, raw bytes."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")
TOWNSHIP_ARGS = ("init", "--role", "township", "--unit", "320117100000", "--name", "白马镇",
                 "--parent", "320117000000")
RARE = "刘䶮"  # 䶮 (U+4DAE) is not in GBK


def run_raw(home: Path, *args: str, encoding: str = "cp936",
            stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    """The CLI with Python told the console speaks `encoding`; raw bytes back."""
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    env.pop("VILLAGEBOOK_HOME", None)
    return subprocess.run([sys.executable, "-m", "villagebook", "--home", str(home),
                           "--lang", "zh", *args], stdout=stdout, stderr=subprocess.PIPE,
                          env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def rare_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A village whose ledger names a person GBK cannot write."""
    home = tmp_path_factory.mktemp("gbk") / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    run_cli(home, "demo", "--cases", "2", "--problems", "40", check=True)
    problem = run_cli(home, "dump", "--json", check=True).json()["problems"][0]["id"]
    run_cli(home, "set", "problem", problem, f"responsible_person={RARE}",
            f"title={RARE}反映的路灯问题", check=True)
    return home, problem


def test_text_search_on_a_gbk_console_replaces_what_it_cannot_write(
        rare_home: tuple[Path, str]) -> None:
    home, problem = rare_home
    done = run_raw(home, "search", RARE)
    assert done.returncode == 0, done.stderr.decode("gbk", "replace")
    line = done.stdout.decode("gbk")
    assert problem in line and "刘?反映的路灯问题" in line


@pytest.mark.parametrize("args", [("search", RARE, "--json"), ("dump", "--json"), ("dump",)])
def test_json_and_dump_are_utf8_whatever_the_console(rare_home: tuple[Path, str],
                                                     args: tuple[str, ...]) -> None:
    home, _problem = rare_home
    done = run_raw(home, *args)
    assert done.returncode == 0, done.stderr.decode("gbk", "replace")
    text = done.stdout.decode("utf-8")
    assert RARE in text
    if "--json" in args:
        json.loads(text)


def test_dump_out_writes_the_same_utf8_document(rare_home: tuple[Path, str],
                                                tmp_path: Path) -> None:
    home, _problem = rare_home
    out = tmp_path / "全部.json"
    done = run_raw(home, "dump", "--json", "--out", str(out))
    assert done.returncode == 0 and done.stdout == b""
    assert out.read_bytes() == run_raw(home, "dump", "--json").stdout


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pipe closed by head")
@pytest.mark.parametrize("args", [("dump",), ("dump", "--json")])
def test_a_reader_that_stops_early_ends_the_command_quietly(rare_home: tuple[Path, str],
                                                            args: tuple[str, ...]) -> None:
    home, _problem = rare_home
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("VILLAGEBOOK_HOME", None)
    command = [sys.executable, "-m", "villagebook", "--home", str(home), *args]
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert producer.stdout is not None and producer.stderr is not None
    producer.stdout.readline()
    producer.stdout.close()  # what `| head -1` does
    err = producer.stderr.read()
    assert producer.wait(timeout=300) == 0
    assert err == b""


def _key_bytes(home: Path) -> bytes:
    done = run_raw(home, "keys", "show", "--public", encoding="utf-8")
    assert done.returncode == 0
    return done.stdout


@pytest.mark.parametrize("shape", ["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom",
                                   "crlf"])
def test_township_trusts_a_key_file_however_windows_saved_it(tmp_path: Path,
                                                             shape: str) -> None:
    village, township = tmp_path / "village", tmp_path / "township"
    run_cli(village, *VILLAGE_ARGS, check=True)
    run_cli(township, *TOWNSHIP_ARGS, check=True)
    text = _key_bytes(village).decode("utf-8")
    saved = {
        "utf-8": text.encode("utf-8"),
        "utf-8-bom": codecs.BOM_UTF8 + text.encode("utf-8"),
        "utf-16-le-bom": codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le"),
        "utf-16-be-bom": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        "crlf": text.replace("\n", "\r\n").encode("utf-8"),
    }[shape]
    key_file = tmp_path / "白马村.pub"
    key_file.write_bytes(saved)
    trusted = run_cli(township, "keys", "trust", str(key_file), "--unit", "320117100201",
                      lang="zh")
    assert trusted.code == 0, trusted
    assert "320117100201" in trusted.out


def test_keys_show_public_out_writes_the_key_file(tmp_path: Path) -> None:
    village = tmp_path / "village"
    run_cli(village, *VILLAGE_ARGS, check=True)
    out = tmp_path / "白马村.pub"
    done = run_cli(village, "keys", "show", "--public", "--out", str(out), lang="zh")
    assert done.code == 0, done
    assert done.out == ""
    assert out.read_bytes() == _key_bytes(village)
