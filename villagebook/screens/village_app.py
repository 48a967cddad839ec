"""The terminal app itself: bindings, the first screen, help, the finder, and one
handler for failed workers. Built by `villagebook.screens.app.make_app`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from villagebook.i18n import N_, _, set_language
from villagebook.screens.app import NAVIGATION
from villagebook.screens.finder import RecordFinder
from villagebook.screens.widgets.bindings import translate_bindings


@dataclass
class HomeChecked(Message):
    """The home was read: whether it is set up, its saved language, its figures."""

    initialised: bool
    language: str | None
    figures: Any
    keymap: dict[str, str]
    clock: Any = None
    redated: int = 0
    theme: str | None = None


#: Seconds after the dashboard is pushed before the everyday screens are imported.
WARM_AFTER = 1.0
#: The screens a user opens next (their modules take ~150 ms to import on first use).
WARM_MODULES = ("villagebook.screens.case_list", "villagebook.screens.problem_list",
                "villagebook.screens.case_detail", "villagebook.screens.problem_detail",
                "villagebook.services.listing")


class VillageBookApp(App[None]):
    """The terminal app of a village, township or district office."""

    TITLE = "VillageBook"
    CSS_PATH = "villagebook.tcss"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, RecordFinder}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", N_("Help"), id="app.help",
                tooltip=N_("Every key of this screen")),
        *(Binding(entry.key, f"open('{name}')", entry.label, id=f"app.{name}",
                  tooltip=N_("Open this screen"),
                  show=entry.footer and name != "dashboard")
          for name, entry in NAVIGATION.items()),
        Binding("ctrl+o", "open_reports_folder", N_("Reports folder"),
                id="app.reports_folder", show=False,
                tooltip=N_("Open the folder the reports are saved in")),
        Binding("ctrl+q", "quit", N_("Quit"), id="app.quit", show=False,
                tooltip=N_("Close VillageBook (saved records are safe)")),
        # Priority, so focus moves the moment Tab is read. Textual hands each key to the
        # widget focused when the key is read, and a plain Tab moves focus only once it
        # has bubbled up from that widget: in a fast burst (a quick typist, a barcode
        # reader, a password manager) the keys behind it would land in the field it left.
        Binding("tab", "focus_next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", show=False, priority=True),
    ]

    def __init__(self, home: Path, lang: str | None = None) -> None:
        super().__init__()
        self.home = home
        self.forced_language = lang
        self._role: str | None = None
        #: False until the home is set up (the setup screen is showing).
        self.ready = False
        #: Where the last report went (Ctrl+O opens it).
        self.last_report_folder: Path | None = None
        translate_bindings(self)

    def on_mount(self) -> None:
        """Read the home on a worker; the first screen follows."""
        from villagebook.screens.terminal_watch import watch_terminal

        self.title = _("VillageBook")
        watch_terminal(self)
        self.check_home()

    @work(thread=True, exclusive=True, exit_on_error=False, group="home")
    def check_home(self) -> None:
        """Whether this home is set up, its language and figures (prefetched, usually)."""
        from villagebook.services.startup import take_home_state

        state = take_home_state(self.home)
        self.post_message(HomeChecked(state.initialised, state.language, state.figures,
                                      state.keymap, state.clock, state.redated, state.theme))

    def on_home_checked(self, message: HomeChecked) -> None:
        """Open the setup screen on a fresh home, the dashboard otherwise."""
        if message.language in ("zh", "en") and not self.forced_language:
            self.apply_language(message.language)
        self.ready = message.initialised
        if message.figures is not None:
            self._role = message.figures.role  # read on the worker: no disk work here
        if message.keymap:
            self.set_keymap(message.keymap)  # the user's own keys, by binding id
        if message.theme in self.available_themes:
            self.theme = message.theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.refresh_bindings()
        if message.initialised:
            from villagebook.screens.dashboard import DashboardScreen

            self.push_screen(DashboardScreen(self.home, figures=message.figures))
            self._tell_clock(message)
            # Off the first-paint path: while the user reads the dashboard.
            self.set_timer(WARM_AFTER, self.warm_screens)
        else:
            from villagebook.screens.setup_screen import SetupScreen

            self.push_screen(SetupScreen(self.home))

    @work(thread=True, exclusive=True, exit_on_error=False, group="warm")
    def warm_screens(self) -> None:
        """Import the list and detail screens ahead of their first use, on a worker
        (after first paint, so it never competes with it, even on one core)."""
        import importlib

        for name in WARM_MODULES:
            importlib.import_module(name)

    def _tell_clock(self, message: HomeChecked) -> None:
        """Say at once that own changes were re-dated, or that the clock looks wrong."""
        from villagebook.domain.clock import ClockVerdict
        from villagebook.services.clock import redated_notice, warning

        if message.redated:
            self.notify(redated_notice(message.redated), markup=False, timeout=15)
        elif message.clock is not None and message.clock.verdict is not ClockVerdict.SET_BACK:
            text = warning(message.clock)
            if text:
                self.notify(text, severity="warning", markup=False, timeout=30)

    def apply_language(self, lang: str) -> None:
        """Speak `lang` from now on (bindings included)."""
        set_language(lang)
        self._bindings = self._merged_bindings.copy() if self._merged_bindings else self._bindings
        translate_bindings(self)
        self.title = _("VillageBook")
        self.refresh_bindings()

    def restart_on_dashboard(self, role: str | None = None) -> None:
        """Drop every screen and open a fresh dashboard (after setup, which says the
        node's `role`, or a language change)."""
        self.ready = True
        if role is not None:
            self._role = role
        self.refresh_bindings()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2:
            self.switch_screen(NAVIGATION["dashboard"].factory(self))
        else:
            self.push_screen(NAVIGATION["dashboard"].factory(self))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Until the home is set up there is nowhere to go: navigation stays hidden;
        afterwards each node sees the screens of its role."""
        if action not in ("open", "open_new"):
            return True
        if not self.ready:
            return False
        return action != "open" or self.serves(str(parameters[0]) if parameters else "")

    def serves(self, name: str) -> bool:
        """Whether the navigation entry `name` is for this node's role."""
        entry = NAVIGATION.get(name)
        return entry is not None and self.node_role() in entry.roles

    def node_role(self) -> str:
        """This node's role: told by the home's first read or by set-up, and read from
        the home here only if neither has."""
        if self._role is None:
            from villagebook.store.node import Store

            with Store(self.home) as store:
                self._role = store.node.role.value if store.initialised else ""
        return self._role

    def _unsaved_form(self) -> bool:
        return any(getattr(screen, "dirty", False) for screen in self.screen_stack)

    async def action_quit(self) -> None:
        """Quit; with an unsaved form, ask first (a form is never dropped silently)."""
        if not self._unsaved_form():
            self.exit()
            return
        from villagebook.screens.confirm_dialog import ConfirmDialog

        def answered(leave: bool | None) -> None:
            if leave:
                self.exit()

        self.push_screen(ConfirmDialog(_("A form has changes that are not saved. "
                                         "Quit without saving them?"),
                                       yes=_("Quit without saving"), no=_("Keep editing")),
                         answered)

    def action_open(self, name: str) -> None:
        """Open a screen of `NAVIGATION` on top of the dashboard."""
        entry = NAVIGATION.get(name)
        if entry is None or not self.ready or not self.serves(name):
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
        if not self.ready:
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
        rows: list[tuple[str, str, str]] = []
        seen: dict[tuple[str, str], int] = {}
        # Our bindings all carry an id; Textual's own (cursor keys…) are summed up below.
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not (binding.id and binding.description):
                continue
            key = self.get_key_display(binding)
            where = seen.get((binding.action, binding.description))
            if where is not None:
                shown, description, tooltip = rows[where]
                rows[where] = (f"{shown} / {key}", description, tooltip)
                continue
            seen[(binding.action, binding.description)] = len(rows)
            rows.append((key, binding.description, active.tooltip or binding.tooltip or ""))
        rows += [
            ("↑ ↓ ← →", _("Move"), _("Move the cursor in a list or a text")),
            ("tab", _("Next"), _("Next field, list or button (shift+tab: back)")),
            ("ctrl+p", _("Find"), _("Find a case or problem by its title, or an action")),
        ]
        self.push_screen(HelpScreen(self.screen.title or _("VillageBook"), rows))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (reading the home)."""
        if event.state is WorkerState.ERROR:
            self.report_failed_worker(event.worker)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette entries (theme, quit, keys, screenshot…) in the user's
        language, and the reports folder."""
        for command in super().get_system_commands(screen):
            yield command._replace(title=_(command.title), help=_(command.help))
        yield SystemCommand(_("Reports folder"), _("Open the folder the reports are saved in"),
                            self.action_open_reports_folder)

    def _theme_changed(self, _theme: object) -> None:
        """A theme picked anywhere (the palette, Settings) is kept in the config file."""
        self.save_theme(self.theme)

    @work(thread=True, exclusive=True, exit_on_error=False, group="config")
    def save_theme(self, theme: str) -> None:
        """Write the theme into the config file, keeping its keys."""
        from dataclasses import replace

        from villagebook.services.config_file import read_config, write_config

        config = read_config(self.home)
        if config.theme != theme:
            write_config(self.home, replace(config, theme=theme))

    def action_open_reports_folder(self) -> None:
        """Show the reports folder in the system's file manager (never waits for it)."""
        from villagebook.services.report_folder import open_folder, reports_folder

        folder: Path = getattr(self, "last_report_folder", None) or reports_folder(self.home)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            open_folder(folder)
        except OSError:
            self.notify(_("Cannot open the folder; the reports are in {path}").format(
                path=folder), severity="warning", markup=False, timeout=8)
            return
        self.notify(_("Opened {path}").format(path=folder), markup=False)

    def report_failed_worker(self, worker: Worker[object]) -> None:
        """One place for failed workers: a calm sentence, never a traceback."""
        from villagebook.services.failures import explain_failure
        from villagebook.services.messages import safe_text

        error = worker.error
        text = explain_failure(error)
        if text is None:
            self.log.error(repr(error))
            text = _("Something went wrong: {problem}").format(problem=safe_text(error))
        else:
            text = safe_text(text)
        self.notify(text, severity="error", markup=False, timeout=8)


