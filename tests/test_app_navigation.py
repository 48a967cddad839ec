"""Each office finds its own screens: the same keys open what its role needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node
from tests.pilot import settle
from tests.test_app_stories import screen_name
from villagebook.domain.enums import Role
from villagebook.screens.app import make_app

NODES = {"village": (Role.VILLAGE, VILLAGE), "township": (Role.TOWNSHIP, TOWNSHIP),
         "district": (Role.DISTRICT, DISTRICT)}
EXPECTED = {
    # role: {key: screen it opens, or None for a key that does nothing there}
    "village": {"f5": "SyncScreen", "f6": "ConflictsScreen", "f7": "KeysScreen",
                "f8": None, "ctrl+g": None, "ctrl+n": None},
    "township": {"f5": "SyncScreen", "f8": "ReviewQueueScreen",
                 "ctrl+g": "TownshipLedgersScreen", "ctrl+n": "InboxScreen"},
    "district": {"f5": "SyncScreen", "f8": "ScoringScreen", "ctrl+g": "ArenaBoardScreen",
                 "ctrl+n": "InboxScreen"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
async def test_every_role_reaches_its_screens_by_key(tmp_path: Path, role: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VILLAGEBOOK_NOW", "2026-06-01T10:00:00")
    node_role, unit = NODES[role]
    make_node(tmp_path / role, node_role, unit).close()
    app: Any = make_app(tmp_path / role, "zh")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
        for key, expected in EXPECTED[role].items():
            await pilot.press(key)
            await settle(pilot)
            assert screen_name(pilot) == (expected or "DashboardScreen"), key
            if expected:
                await pilot.press("escape")
                await settle(pilot)
                assert screen_name(pilot) == "DashboardScreen"
