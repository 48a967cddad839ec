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


@dataclass(frozen=True)
class NavEntry:
    """A screen reachable from anywhere: its key, label msgid and factory."""

    key: str
    label: str
    factory: Callable[[VillageBookApp], Screen[Any]]

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


#: Screens reachable from anywhere by key, in footer order. The lead adds Sync,
#: Conflicts and Keys here (e.g. "sync": NavEntry("f8", N_("Sync"), factory)).
NAVIGATION: dict[str, NavEntry] = {
    "dashboard": NavEntry("f2", N_("Dashboard"), _dashboard),
    "cases": NavEntry("f3", N_("Cases"), _cases),
    "problems": NavEntry("f4", N_("Problem ledger"), _problems),
    "settings": NavEntry("f9", N_("Settings"), _settings),
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
