"""Packaging: one version, catalogs GNU gettext accepts, a spec that collects the data files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import villagebook

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_lives_in_the_package_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "villagebook/__init__.py"


def test_version_option_prints_the_package_version() -> None:
    out = subprocess.run([sys.executable, "-m", "villagebook", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"villagebook, version {villagebook.__version__}"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="msgfmt (gettext) not installed")
@pytest.mark.parametrize("catalog", sorted((ROOT / "villagebook/locale/zh").glob("*.po")),
                         ids=lambda path: path.name)
def test_every_catalog_passes_msgfmt_check(catalog: Path) -> None:
    result = subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(catalog)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr


def test_the_frozen_build_collects_catalogs_stylesheet_and_metadata() -> None:
    spec = (ROOT / "packaging/villagebook.spec").read_text(encoding="utf-8")
    assert '"**/*.po"' in spec and '"**/*.tcss"' in spec
    assert 'copy_metadata("villagebook")' in spec
    assert 'collect_data_files("docx")' in spec
