"""The terminal app's entry points: one factory (`make_app`) for the CLI and the tests,
and the navigation table.

A cold-start guard keeps start-up light: this module imports neither Textual nor
the store; `make_app` first starts reading the home on a background thread
(`services.startup.prefetch`) and only then imports the interface
(`villagebook.screens.village_app`), so SQLite counts while Python loads Textual.

Navigation is one table, `NAVIGATION`: a name, a key, a label msgid and a
factory. Adding a screen (Sync, Conflicts, Keys…) is one entry there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from villagebook.i18n import N_, set_language

if TYPE_CHECKING:
    from textual.screen import Screen

    from villagebook.screens.village_app import VillageBookApp


ALL_ROLES = frozenset({"village", "township", "district"})


@dataclass(frozen=True)
class NavEntry:
    """A screen reachable from anywhere: its key, label msgid, factory, and the
    node roles it serves (hidden elsewhere)."""

    key: str
    label: str
    factory: Callable[[VillageBookApp], Screen[Any]]
    roles: frozenset[str] = ALL_ROLES
    #: Shown in the footer; the rest are in F1 and Ctrl+P (80 columns hold few keys).
    footer: bool = True


def _dashboard(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.dashboard import DashboardScreen

    return DashboardScreen(app.home)


def _cases(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.case_list import CaseListScreen

    return CaseListScreen(app.home)


def _problems(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.problem_list import ProblemListScreen

    return ProblemListScreen(app.home)


def _settings(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.settings_screen import SettingsScreen

    return SettingsScreen(app.home)


def _sync(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.sync_screen import SyncScreen

    return SyncScreen(app.home)


def _conflicts(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.conflicts_screen import ConflictsScreen

    return ConflictsScreen(app.home)


def _keys(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.keys_screen import KeysScreen

    return KeysScreen(app.home)


def _review_queue(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.review_queue import ReviewQueueScreen

    return ReviewQueueScreen(app.home)


def _township_ledgers(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.township_ledgers import TownshipLedgersScreen

    return TownshipLedgersScreen(app.home)


def _inbox(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.inbox import InboxScreen

    return InboxScreen(app.home)


def _scoring(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.scoring_screen import ScoringScreen

    return ScoringScreen(app.home)


def _arena(app: VillageBookApp) -> Screen[Any]:
    from villagebook.screens.arena_board import ArenaBoardScreen

    return ArenaBoardScreen(app.home)


_ABOVE_VILLAGE = frozenset({"township", "district"})

#: Screens reachable from anywhere by key, in footer order.
NAVIGATION: dict[str, NavEntry] = {
    "dashboard": NavEntry("f2", N_("Dashboard"), _dashboard),
    "cases": NavEntry("f3", N_("Cases"), _cases),
    "problems": NavEntry("f4", N_("Problem ledger"), _problems),
    "sync": NavEntry("f5", N_("Sync"), _sync),
    "conflicts": NavEntry("f6", N_("Conflicts"), _conflicts, footer=False),
    "keys": NavEntry("f7", N_("Keys"), _keys, footer=False),
    "review": NavEntry("f8", N_("Review queue"), _review_queue, frozenset({"township"})),
    "scoring": NavEntry("f8", N_("Expert scoring"), _scoring, frozenset({"district"})),
    "ledgers": NavEntry("ctrl+g", N_("Unit ledgers"), _township_ledgers,
                        frozenset({"township"}), footer=False),
    "arena": NavEntry("ctrl+g", N_("Arena board"), _arena, frozenset({"district"}),
                      footer=False),
    "inbox": NavEntry("ctrl+n", N_("Inbox"), _inbox, _ABOVE_VILLAGE, footer=False),
    "settings": NavEntry("f9", N_("Settings"), _settings, footer=False),
}



def make_app(home: Path, lang: str | None = None) -> VillageBookApp:
    """Build the app for a home (the one factory the CLI and tests share)."""
    from villagebook.services.startup import prefetch

    prefetch(home)
    if lang:
        set_language(lang)
    from villagebook.screens.village_app import VillageBookApp

    return VillageBookApp(home, lang)


def run_app(home: Path, lang: str | None = None) -> None:
    """Open the terminal app on `home`."""
    make_app(home, lang).run()


def __getattr__(name: str) -> Any:
    """`VillageBookApp` is importable from here too, loaded on first use."""
    if name == "VillageBookApp":
        from villagebook.screens import village_app

        return village_app.VillageBookApp
    raise AttributeError(name)
