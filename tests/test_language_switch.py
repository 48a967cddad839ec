"""Key labels follow a language switch: every screen opened after the switch (F9)
shows its footer and F1 keys in the new language, whenever its module was imported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Select
from textual.widgets._footer import FooterKey

from tests.conftest import DISTRICT, TOWNSHIP, make_node
from tests.pilot import Harness, settle
from villagebook.domain.enums import Role
from villagebook.i18n import set_language, translate
from villagebook.screens.app import make_app

# Imported up front, in the language of the moment, as a running app would have them.
from villagebook.screens.arena_board import ArenaBoardScreen  # noqa: F401
from villagebook.screens.comment_modal import CommentModal
from villagebook.screens.conflicts_screen import ConflictsScreen  # noqa: F401
from villagebook.screens.inbox import InboxScreen  # noqa: F401
from villagebook.screens.keys_screen import KeysScreen  # noqa: F401
from villagebook.screens.review_queue import ReviewQueueScreen  # noqa: F401
from villagebook.screens.score_form import ScoreForm
from villagebook.screens.scoring_screen import ScoringScreen  # noqa: F401
from villagebook.screens.sync_screen import SyncScreen  # noqa: F401
from villagebook.screens.township_ledgers import TownshipLedgersScreen  # noqa: F401

SIZE = (120, 30)
BACK = "Back"
#: Per screen, the English msgids of its own keys (binding id → description).
OWN_KEYS: dict[str, dict[str, str]] = {
    "SyncScreen": {"sync.export": "Export", "sync.merge": "Import all", "sync.back": BACK},
    "ConflictsScreen": {"conflicts.keep_first": "Keep left",
                        "conflicts.keep_second": "Keep right", "conflicts.back": BACK},
    "KeysScreen": {"keys.back": BACK},
    "ReviewQueueScreen": {"review.approve": "Approve", "review.return": "Return",
                          "review.back": BACK},
    "TownshipLedgersScreen": {"ledgers.all": "All units", "ledgers.export": "Export",
                              "ledgers.back": BACK},
    "InboxScreen": {"inbox.back": BACK},
    "ScoringScreen": {"scoring.score": "Score", "scoring.model": "Model case",
                      "scoring.export": "Export", "scoring.back": BACK},
    "ArenaBoardScreen": {"arena.group": "Switch group", "arena.period": "Period",
                         "arena.export": "Export", "arena.back": BACK},
    "CommentModal": {"comment.cancel": "Cancel"},
    "ScoreForm": {"score.cancel": "Cancel"},
}
#: Per role, the keys that open the screens above from the dashboard.
OPENED_BY = {
    "township": {"f5": "SyncScreen", "f6": "ConflictsScreen", "f7": "KeysScreen",
                 "f8": "ReviewQueueScreen", "ctrl+g": "TownshipLedgersScreen",
                 "ctrl+n": "InboxScreen"},
    "district": {"f5": "SyncScreen", "f8": "ScoringScreen", "ctrl+g": "ArenaBoardScreen",
                 "ctrl+n": "InboxScreen"},
}
NODES = {"township": (Role.TOWNSHIP, TOWNSHIP), "district": (Role.DISTRICT, DISTRICT)}


def own_keys(screen: Screen[Any]) -> dict[str, str]:
    """The screen's own active keys: binding id → description as the footer gets it."""
    prefix = next(iter(OWN_KEYS[type(screen).__name__])).split(".")[0] + "."
    return {active.binding.id: active.binding.description
            for active in screen.active_bindings.values()
            if active.binding.id and active.binding.id.startswith(prefix)}


def expected(screen_name: str, lang: str) -> dict[str, str]:
    return {key: translate(msgid, lang) for key, msgid in OWN_KEYS[screen_name].items()}


def test_the_labels_differ_between_the_languages() -> None:
    """Otherwise the tests below would prove nothing."""
    for keys in OWN_KEYS.values():
        for msgid in keys.values():
            assert translate(msgid, "zh") != msgid


async def switch_language(pilot: Pilot[Any], lang: str) -> None:
    """Settings (F9): choose `lang`, save; the app restarts on the dashboard."""
    await pilot.press("f9")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "SettingsScreen"
    pilot.app.screen.query_one("#language", Select).value = lang
    await pilot.press("ctrl+s")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "DashboardScreen"


@pytest.mark.parametrize("role", sorted(OPENED_BY))
async def test_screens_opened_after_a_language_switch_show_their_keys_in_it(
        tmp_path: Path, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VILLAGEBOOK_NOW", "2026-06-01T10:00:00")
    node_role, unit = NODES[role]
    make_node(tmp_path / role, node_role, unit).close()
    app: Any = make_app(tmp_path / role, None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # There and back: whichever language the modules were imported in, one way differs.
        for lang in ("en", "zh"):
            await switch_language(pilot, lang)
            for key, name in OPENED_BY[role].items():
                await pilot.press(key)
                await settle(pilot)
                screen = app.screen
                assert type(screen).__name__ == name, key
                assert own_keys(screen) == expected(name, lang), (lang, name)
                footer = {item.description for item in screen.query(FooterKey)}
                assert set(expected(name, lang).values()) <= footer, (lang, name, footer)
                await pilot.press("escape")
                await settle(pilot)
                assert type(app.screen).__name__ == "DashboardScreen"


@pytest.mark.parametrize("make_screen", [lambda: CommentModal("?"), lambda: ScoreForm("?")],
                         ids=["comment", "score"])
async def test_dialogs_opened_after_a_language_switch_show_their_keys_in_it(
        make_screen: Callable[[], Screen[Any]]) -> None:
    for lang in ("en", "zh"):
        set_language(lang)
        app = Harness(make_screen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            name = type(app.screen).__name__
            assert own_keys(app.screen) == expected(name, lang), (lang, name)
