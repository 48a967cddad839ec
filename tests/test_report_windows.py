"""Reports as a Windows office meets them: the old copy is still open in WPS or Excel
(Windows refuses to replace an open file), and the reports belong in Documents."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.conftest import TOWNSHIP, make_node
from tests.pilot import Harness, settle
from villagebook.domain.enums import Role
from villagebook.services.errors import Refused
from villagebook.services.messages import describe
from villagebook.services.report_folder import free_name, reports_folder
from villagebook.services.reports import write_report
from villagebook.store.node import NOW_ENV

_real_replace = os.replace


def _locked(path: Path) -> object:
    """os.replace as Windows behaves while `path` is open in another program."""

    def replace(source: str | Path, target: str | Path) -> None:
        if Path(target) == path:
            raise PermissionError(errno.EACCES, "Access is denied", str(target))
        _real_replace(source, target)

    return replace


@pytest.fixture
def township_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(NOW_ENV, "2026-06-01T10:00:00+08:00")
    home = tmp_path / "baima-town"
    make_node(home, Role.TOWNSHIP, TOWNSHIP).close()
    return home


def test_a_report_open_in_excel_says_close_it_and_keeps_the_old_copy(
        township_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from villagebook.store.node import Store

    out = tmp_path / "问题台账.xlsx"
    out.write_bytes(b"the copy open in WPS")
    monkeypatch.setattr(os, "replace", _locked(out))
    with Store(township_home) as store, pytest.raises(Refused) as refused:
        write_report(store, "problem", out)
    message = describe(refused.value)
    assert "关闭" in message and "WPS/Excel" in message, message
    assert out.read_bytes() == b"the copy open in WPS"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report-")] == []


async def test_the_app_offers_another_name_when_the_report_is_open(
        township_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from villagebook.screens.confirm_dialog import ConfirmDialog
    from villagebook.screens.township_ledgers import TownshipLedgersScreen

    first = reports_folder(township_home) / "problem-2026-06-01.xlsx"
    first.parent.mkdir(parents=True)
    first.write_bytes(b"open in Excel")
    monkeypatch.setattr(os, "replace", _locked(first))
    app = Harness(lambda: TownshipLedgersScreen(township_home))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "problem-2026-06-01 (2).xlsx" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
    assert first.read_bytes() == b"open in Excel"
    assert (first.parent / "problem-2026-06-01 (2).xlsx").stat().st_size > 0


def test_the_laptops_own_home_saves_reports_in_documents(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platformdirs import user_data_path, user_documents_path

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "文档"))
    own = user_data_path("villagebook", appauthor=False)
    assert reports_folder(own) == user_documents_path() / "VillageBook"
    assert reports_folder(tmp_path / "second-office") == tmp_path / "second-office" / "reports"


def test_free_name_counts_up_past_taken_names(tmp_path: Path) -> None:
    taken = tmp_path / "case-2026-06-01.xlsx"
    assert free_name(taken) == taken
    taken.touch()
    (tmp_path / "case-2026-06-01 (2).xlsx").touch()
    assert free_name(taken).name == "case-2026-06-01 (3).xlsx"
