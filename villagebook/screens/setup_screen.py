"""First run: say who this laptop belongs to (role, unit, parent), or try the app
with a demo village full of example records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, ProgressBar, Select, Static

from villagebook.domain.enums import Role
from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text

#: The demo village: a made-up unit under a made-up township of Lishui (320117).
DEMO_UNIT = "320117101201"
DEMO_PARENT = "320117101000"


@dataclass
class SetUpDone(Message):
    """The node was set up (`problem` is None), or refused with a reason."""

    problem: str | None
    fingerprint: str = ""
    role: str = ""


class SetupScreen(ReportsFailedWorkers, Screen[None]):
    """Set this home up as a node, or with demo data."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "set_up", N_("Set up"), id="setup.save", priority=True,
                tooltip=N_("Set this laptop up with the details above")),
        Binding("ctrl+d", "demo", N_("Try with demo data"), id="setup.demo", priority=True,
                tooltip=N_("Set up a demo village with example cases and problems")),
    ]

    def __init__(self, home: Path) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="setup-scroll"):
            yield Static(Text(_("Welcome to VillageBook. Who uses this laptop?"),
                              style="bold"), classes="field-label")
            yield Static(Text(_("Role")), classes="field-label")
            yield Select([(Text(_(role.label)), role.value) for role in Role],
                         value=Role.VILLAGE.value, allow_blank=False, id="role", compact=True)
            yield Static(Text(_("Unit code (12 digits, the statistical division code)")),
                         classes="field-label")
            yield Input(placeholder="320117xxxxxx", id="unit-code", max_length=12,
                        restrict=r"[0-9]*", compact=True)
            yield Static(Text(_("Unit name")), classes="field-label")
            yield Input(placeholder=_("e.g. 石湫街道九里埂村"), id="unit-name", max_length=40,
                        compact=True)
            yield Static(Text(_("Parent unit code (the township; a district has none)")),
                         classes="field-label")
            yield Input(placeholder="320117xxxxxx", id="parent-code", max_length=12,
                        restrict=r"[0-9]*", compact=True)
            yield Static("", id="setup-problem", classes="form-problem")
            with Horizontal(classes="setup-buttons"):
                yield Button(Text(_("Set up")), id="set-up", variant="primary")
                yield Button(Text(_("Try with demo data")), id="demo")
            yield ProgressBar(total=None, show_eta=False, id="setup-progress")
        yield Footer()

    def on_mount(self) -> None:
        """Title; the progress bar shows only while working."""
        self.title = _("First run: set up")
        self.query_one("#setup-progress").display = False
        self.query_one("#unit-code", Input).focus()

    @on(Button.Pressed, "#set-up")
    def action_set_up(self) -> None:
        """Set up with the details typed."""
        if self.busy:
            return
        role = self.query_one("#role", Select).value
        self._start()
        self.set_up(Role(str(role)), self.query_one("#unit-code", Input).value.strip(),
                    self.query_one("#unit-name", Input).value.strip(),
                    self.query_one("#parent-code", Input).value.strip() or None, False)

    @on(Button.Pressed, "#demo")
    def action_demo(self) -> None:
        """Set up a demo village with example records."""
        if self.busy:
            return
        self._start()
        self.set_up(Role.VILLAGE, DEMO_UNIT, _("Demo village"), DEMO_PARENT, True)

    def _start(self) -> None:
        self.busy = True
        self.query_one("#setup-progress").display = True
        self.query_one("#setup-problem", Static).update(Text(_("Setting up…")))

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup")
    def set_up(self, role: Role, code: str, name: str, parent: str | None, demo: bool) -> None:
        """Create the node and its signing key (and demo records) on a worker."""
        from villagebook.domain.validation import ValidationError
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe
        from villagebook.store.node import Store
        from villagebook.sync.identity import set_up_node

        try:
            with Store(self.home) as store:
                _node, fingerprint = set_up_node(store, role, code, name, parent)
                if demo:
                    from villagebook.services.demo import generate

                    generate(store, cases=40, problems=60, seed=1)
        except (Refused, ValidationError) as error:
            self.post_message(SetUpDone(describe(error, "unit")))
            return
        self.post_message(SetUpDone(None, fingerprint, role.value))

    def on_set_up_done(self, message: SetUpDone) -> None:
        """On to the dashboard, or say what to correct."""
        self.busy = False
        self.query_one("#setup-progress").display = False
        if message.problem:
            self.query_one("#setup-problem", Static).update(Text(safe_text(message.problem)))
            return
        self.notify(_("Set up. Your key's fingerprint is {fingerprint}").format(
            fingerprint=message.fingerprint), markup=False, timeout=8)
        self.app.restart_on_dashboard(message.role)  # type: ignore[attr-defined]
