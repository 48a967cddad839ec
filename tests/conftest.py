"""Shared fixtures: real homes in tmp_path, the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from villagebook.domain.enums import Role
from villagebook.i18n import set_language
from villagebook.store.node import Store
from villagebook.sync.identity import set_up_node

VILLAGE = ("320117100201", "白马村", "320117100000")
TOWNSHIP = ("320117100000", "白马镇", "320117000000")
DISTRICT = ("320117000000", "溧水区", None)


@dataclass
class Result:
    """A finished CLI run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(home: Path, *args: str, lang: str = "en", env: dict[str, str] | None = None,
            check: bool = False) -> Result:
    """Run the real `villagebook` executable (as `python -m villagebook`)."""
    full_env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    full_env.pop("VILLAGEBOOK_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "villagebook", "--home", str(home), "--lang", lang, *args],
        capture_output=True, text=True, encoding="utf-8", env=full_env, timeout=300,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and result.code != 0:
        raise AssertionError(f"villagebook {' '.join(args)} failed: {result}")
    return result


def init_village(home: Path) -> Path:
    """Set `home` up as the village 白马村 through the real CLI, as a user would."""
    run_cli(home, "init", "--role", "village", "--unit", VILLAGE[0], "--name", VILLAGE[1],
            "--parent", VILLAGE[2], check=True)
    return home


@pytest.fixture(autouse=True)
def _chinese_by_default() -> Iterator[None]:
    set_language("zh")
    yield
    set_language("zh")


def make_node(home: Path, role: Role, unit: tuple[str, str, str | None]) -> Store:
    """A set-up node in `home` (in-process)."""
    store = Store(home)
    set_up_node(store, role, unit[0], unit[1], unit[2])
    return store


@pytest.fixture
def village(tmp_path: Path) -> Iterator[Store]:
    """A village node's open store (白马村 under 白马镇)."""
    store = make_node(tmp_path / "village", Role.VILLAGE, VILLAGE)
    yield store
    store.close()


@pytest.fixture
def township(tmp_path: Path) -> Iterator[Store]:
    """A township node's open store (白马镇 under 溧水区)."""
    store = make_node(tmp_path / "township", Role.TOWNSHIP, TOWNSHIP)
    yield store
    store.close()
