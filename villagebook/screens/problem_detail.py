"""One ledger problem: its fields, the follow-up timeline, and the status path
(open → studying → resolving → resolved → closed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from villagebook.domain.enums import ProblemStatus
from villagebook.domain.rules import problem_moves
from villagebook.i18n import N_, _
from villagebook.screens.widgets.attachment_panel import AttachesFiles, AttachmentPanel
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.detail_view import detail_text
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class ProblemRead(Message):
    """The problem, its timeline and its linked case were read."""

    problem: dict[str, Any]
    followups: list[dict[str, Any]]
    lines: list[tuple[str, str]]
    unit: str
    overdue: bool
    case_title: str | None


@dataclass
class ProblemChanged(Message):
    """The problem was changed: `what` says how (a sentence for the user)."""

    what: str
    deleted: bool = False


class ProblemDetailScreen(AttachesFiles, ReportsFailedWorkers, Screen[None]):
    """Everything about one ledger problem."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "followup", N_("Follow-up"), id="problem.followup",
                tooltip=N_("Add a dated entry to the timeline")),
        Binding("m", "move", N_("Move status"), id="problem.move",
                tooltip=N_("Move the problem to its next status")),
        Binding("l", "link", N_("Link case"), id="problem.link",
                tooltip=N_("Name the innovation case that solved it")),
        Binding("e", "edit", N_("Edit"), id="problem.edit", tooltip=N_("Edit this problem")),
        Binding("delete,x", "delete", N_("Delete"), id="problem.delete",
                tooltip=N_("Delete this problem (asks first)")),
        Binding("a", "attach", N_("Attach"), id="problem.attach",
                tooltip=N_("Attach photos or documents from a folder or USB stick")),
        Binding("r", "detach", N_("Remove file"), id="problem.detach",
                tooltip=N_("Remove the selected attachment (asks first)")),
        Binding("p", "preview", N_("Preview"), id="problem.preview", show=False,
                tooltip=N_("Draw the selected photo here, in the terminal")),
        Binding("escape", "app.pop_screen", N_("Back"), id="problem.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, problem_id: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.problem_id = problem_id
        self.problem: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="detail-scroll"):
            yield Static(Text(_("Loading…")), id="detail")
            yield Static("", id="timeline")
            yield AttachmentPanel(self.home, "problem", self.problem_id)
        yield Static("", id="detail-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        """Title, then the problem."""
        self.title = _("Ledger problem")
        self.query_one(VerticalScroll).focus()

    def on_screen_resume(self) -> None:
        """Read again (after an edit, for instance)."""
        self.read_problem()

    @work(thread=True, exclusive=True, exit_on_error=False, group="problem-read")
    def read_problem(self) -> None:
        """The problem, its timeline and the linked case's title, on a worker."""
        from villagebook.domain.rules import is_overdue
        from villagebook.services.explain import record_lines
        from villagebook.services.problems import followups_of, get_problem
        from villagebook.services.records import get_record
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store

        with Store(self.home) as store:
            problem = get_problem(store, self.problem_id)
            linked = problem.get("solved_by_case_id")
            case = get_record(store, "case", linked) if linked else None
            self.post_message(ProblemRead(
                problem, followups_of(store, self.problem_id),
                record_lines("problem", problem, skip=("title", "unit_code")),
                unit_name(store, problem["unit_code"]) or problem["unit_code"],
                is_overdue(problem.get("deadline"), problem.get("status"), store.today()),
                (case or {}).get("title")))

    def on_problem_read(self, message: ProblemRead) -> None:
        """Show the problem and its timeline."""
        self.problem = message.problem
        lines = list(message.lines)
        if message.case_title:
            lines.append((_("Solved by case"), message.case_title))
        text = detail_text(message.problem["title"] or "", message.unit, lines)
        if message.overdue:
            text.append(_("Overdue: the deadline has passed") + "\n", style="bold red")
        self.query_one("#detail", Static).update(text)
        timeline = Text()
        timeline.append(_("Follow-up timeline") + "\n", style="bold underline")
        if not message.followups:
            timeline.append(_("No follow-ups yet: press f to add one") + "\n", style="dim")
        for entry in message.followups:
            timeline.append(safe_text(_("{date} · {author}").format(
                date=entry["date"], author=entry["author"])) + "\n", style="bold")
            timeline.append(safe_text(entry["text"]) + "\n")
        self.query_one("#timeline", Static).update(timeline)
        status = ProblemStatus(message.problem["status"] or "open")
        moves = problem_moves(status)
        hint = (_("Status: {status} · m moves it to {next}").format(
                    status=_(status.label), next=_(moves[0].label)) if moves
                else _("Status: {status}").format(status=_(status.label)))
        self.query_one("#detail-status", Static).update(Text(hint))

    def action_followup(self) -> None:
        """Ask for the follow-up's text, then add it."""
        from villagebook.screens.text_prompt import TextPromptDialog

        def answered(text: str | None) -> None:
            if text:
                self.change(("followup", text))

        self.app.push_screen(TextPromptDialog(_("What happened? (dated today, signed "
                                                "with your name from the settings)")),
                             answered)

    def action_move(self) -> None:
        """Choose the next status (asking for the resolution when resolving)."""
        if self.problem is None:
            return
        moves = problem_moves(ProblemStatus(self.problem["status"] or "open"))
        if not moves:
            self.notify(_("This problem is closed: nothing follows"), markup=False)
            return
        from villagebook.screens.choice_dialog import ChoiceDialog

        self.app.push_screen(ChoiceDialog(_("Move this problem to:"),
                                          [(_(move.label), move.value) for move in moves]),
                             self._moved)

    def _moved(self, target: str | None) -> None:
        if not target:
            return
        if target != ProblemStatus.RESOLVED.value:
            self.change(("move", target, None))
            return
        from villagebook.screens.text_prompt import TextPromptDialog

        def answered(resolution: str | None) -> None:
            if resolution:
                self.change(("move", target, resolution))

        initial = str((self.problem or {}).get("resolution") or "")
        self.app.push_screen(TextPromptDialog(_("How was it resolved?"), initial=initial),
                             answered)

    def action_link(self) -> None:
        """Pick the case that solved the problem."""
        from villagebook.screens.record_picker import RecordPickerDialog

        def chosen(case_id: str | None) -> None:
            if case_id:
                self.change(("link", case_id))

        self.app.push_screen(RecordPickerDialog(self.home, _("Which case solved this problem?")),
                             chosen)

    def action_edit(self) -> None:
        """The problem's form."""
        from villagebook.screens.problem_form import ProblemFormScreen

        self.app.push_screen(ProblemFormScreen(self.home, self.problem_id))

    def action_delete(self) -> None:
        """Ask, then delete."""
        from villagebook.screens.confirm_dialog import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(("delete",))

        self.app.push_screen(ConfirmDialog(
            _("Delete this problem and its timeline? The deletion is also sent to the "
              "township."), yes=_("Delete"), no=_("Keep it")), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="problem-change")
    def change(self, what: tuple[Any, ...]) -> None:
        """One write through the services (refusals reach the app's handler)."""
        from villagebook.services import problems
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store

        with Store(self.home) as store:
            if what[0] == "followup":
                author = (store.get_setting("author_name")
                          or unit_name(store, store.node.unit_code) or store.node.unit_code)
                problems.add_followup(store, self.problem_id, what[1], author)
                self.post_message(ProblemChanged(_("Follow-up added")))
            elif what[0] == "move":
                problems.move_problem(store, self.problem_id, what[1], what[2])
                self.post_message(ProblemChanged(_("Moved to {status}").format(
                    status=_(ProblemStatus(what[1]).label))))
            elif what[0] == "link":
                problems.update_problem(store, self.problem_id, {"solved_by_case_id": what[1]})
                self.post_message(ProblemChanged(_("Case linked")))
            else:
                problems.delete_problem(store, self.problem_id)
                self.post_message(ProblemChanged(_("Problem deleted"), deleted=True))

    def on_problem_changed(self, message: ProblemChanged) -> None:
        """Say what happened; show the result."""
        self.notify(message.what, markup=False)
        if message.deleted:
            self.app.pop_screen()
        else:
            self.read_problem()
