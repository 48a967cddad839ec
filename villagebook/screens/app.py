"""The terminal app: one factory (`make_app`) for the CLI and the tests.

Start-up stays light: this module imports Textual and the i18n layer only;
each screen, and the store, are imported when first needed, and the home is
read on a worker thread so the first frame never waits for the disk.

Navigation is one table, `NAVIGATION`: a name, a key, a label msgid and a
factory. Adding a screen (Sync, Conflicts, Keys…) is one entry there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import Worker, WorkerState

from villagebook.i18n import N_, _, set_language
from villagebook.screens.finder import RecordFinder
from villagebook.screens.widgets.bindings import translate_bindings

if TYPE_CHECKING:
    from textual.screen import Screen


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


@dataclass
class HomeChecked(Message):
    """The home was read: whether it is set up, and its saved language (if any)."""

    initialised: bool
    language: str | None


class VillageBookApp(App[None]):
    """The terminal app of a village, township or district office."""

    TITLE = "VillageBook"
    CSS_PATH = "villagebook.tcss"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, RecordFinder}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", N_("Help"), id="app.help",
                tooltip=N_("Every key of this screen")),
        *(Binding(entry.key, f"open('{name}')", entry.label, id=f"app.{name}",
                  tooltip=N_("Open this screen"), show=name != "dashboard")
          for name, entry in NAVIGATION.items()),
        Binding("ctrl+q", "quit", N_("Quit"), id="app.quit", show=False,
                tooltip=N_("Close VillageBook (saved records are safe)")),
    ]

    def __init__(self, home: Path, lang: str | None = None) -> None:
        super().__init__()
        self.home = home
        self.forced_language = lang
        translate_bindings(self)

    def on_mount(self) -> None:
        """Read the home on a worker; the first screen follows."""
        self.title = _("VillageBook")
        self.check_home()

    @work(thread=True, exclusive=True, exit_on_error=False, group="home")
    def check_home(self) -> None:
        """Whether this home is set up, and its language setting."""
        from villagebook.store.node import Store

        with Store(self.home) as store:
            initialised = store.initialised
            language = store.get_setting("language")
        self.post_message(HomeChecked(initialised, language))

    def on_home_checked(self, message: HomeChecked) -> None:
        """Open the setup screen on a fresh home, the dashboard otherwise."""
        if message.language in ("zh", "en") and not self.forced_language:
            self.apply_language(message.language)
        if message.initialised:
            self.push_screen(NAVIGATION["dashboard"].factory(self))
        else:
            from villagebook.screens.setup_screen import SetupScreen

            self.push_screen(SetupScreen(self.home))

    def apply_language(self, lang: str) -> None:
        """Speak `lang` from now on (bindings included)."""
        set_language(lang)
        self._bindings = self._merged_bindings.copy() if self._merged_bindings else self._bindings
        translate_bindings(self)
        self.title = _("VillageBook")
        self.refresh_bindings()

    def restart_on_dashboard(self) -> None:
        """Drop every screen and open a fresh dashboard (after setup or a language change)."""
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2:
            self.switch_screen(NAVIGATION["dashboard"].factory(self))
        else:
            self.push_screen(NAVIGATION["dashboard"].factory(self))

    def _unsaved_form(self) -> bool:
        return any(getattr(screen, "dirty", False) for screen in self.screen_stack)

    def action_open(self, name: str) -> None:
        """Open a screen of `NAVIGATION` on top of the dashboard."""
        entry = NAVIGATION.get(name)
        if entry is None or len(self.screen_stack) < 2:
            return
        if self._unsaved_form():
            self.notify(_("Save the form with Ctrl+S or leave it with Esc first"),
                        severity="warning", markup=False)
            return
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if name != "dashboard":
            self.push_screen(entry.factory(self))

    def action_open_new(self, kind: str) -> None:
        """A blank form for a new case or ledger problem."""
        if len(self.screen_stack) < 2:
            return
        if kind == "case":
            from villagebook.screens.case_form import CaseFormScreen

            self.push_screen(CaseFormScreen(self.home, None))
        else:
            from villagebook.screens.problem_form import ProblemFormScreen

            self.push_screen(ProblemFormScreen(self.home, None))

    def open_record(self, kind: str, record_id: str) -> None:
        """Show one case or ledger problem (from the finder, or a link)."""
        if kind == "case":
            from villagebook.screens.case_detail import CaseDetailScreen

            self.push_screen(CaseDetailScreen(self.home, record_id))
        else:
            from villagebook.screens.problem_detail import ProblemDetailScreen

            self.push_screen(ProblemDetailScreen(self.home, record_id))

    def action_help(self) -> None:
        """List every key of the current screen."""
        from villagebook.screens.help_screen import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        rows = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.description:
                rows.append((self.get_key_display(binding), binding.description,
                             active.tooltip or binding.tooltip or ""))
        self.push_screen(HelpScreen(self.screen.title or _("VillageBook"), rows))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place for failed workers: a calm sentence, never a traceback."""
        if event.state is not WorkerState.ERROR:
            return
        from villagebook.domain.validation import ValidationError
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe, safe_text

        error = event.worker.error
        if isinstance(error, (Refused, ValidationError)):
            text = safe_text(describe(error))
        else:
            self.log.error(repr(error))
            text = _("Something went wrong: {problem}").format(problem=safe_text(error))
        self.notify(text, severity="error", markup=False, timeout=8)


def make_app(home: Path, lang: str | None = None) -> VillageBookApp:
    """Build the app for a home (the one factory the CLI and tests share)."""
    if lang:
        set_language(lang)
    return VillageBookApp(home, lang)


def run_app(home: Path, lang: str | None = None) -> None:
    """Open the terminal app on `home`."""
    make_app(home, lang).run()
