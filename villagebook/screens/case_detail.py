"""One innovation case: its fields and the township's reviews; edit, submit for
review, delete."""

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

from villagebook.domain.enums import CaseStatus, ReviewDecision
from villagebook.domain.rules import CASE_EDITABLE
from villagebook.i18n import N_, _
from villagebook.screens.widgets.attachment_panel import AttachesFiles, AttachmentPanel
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.detail_view import detail_text
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class CaseRead(Message):
    """The case, its reviews and its unit's name were read."""

    case: dict[str, Any]
    reviews: list[dict[str, Any]]
    lines: list[tuple[str, str]]
    unit: str


@dataclass
class CaseChanged(Message):
    """The case was submitted or deleted (`deleted`)."""

    deleted: bool


class CaseDetailScreen(AttachesFiles, ReportsFailedWorkers, Screen[None]):
    """Everything about one case."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", N_("Edit"), id="case.edit", tooltip=N_("Edit this case")),
        Binding("s", "submit", N_("Submit"), id="case.submit",
                tooltip=N_("Submit this case to the township for review")),
        Binding("delete,x", "delete", N_("Delete"), id="case.delete",
                tooltip=N_("Delete this case (asks first)")),
        Binding("a", "attach", N_("Attach"), id="case.attach",
                tooltip=N_("Attach photos or documents from a folder or USB stick")),
        Binding("r", "detach", N_("Remove file"), id="case.detach",
                tooltip=N_("Remove the selected attachment (asks first)")),
        Binding("p", "preview", N_("Preview"), id="case.preview", show=False,
                tooltip=N_("Draw the selected photo here, in the terminal")),
        Binding("escape", "app.pop_screen", N_("Back"), id="case.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, case_id: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.case_id = case_id
        self.case: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="detail-scroll"):
            yield Static(Text(_("Loading…")), id="detail")
            yield AttachmentPanel(self.home, "case", self.case_id)
        yield Static("", id="detail-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        """Title, then the case."""
        self.title = _("Innovation case")
        self.query_one(VerticalScroll).focus()

    def on_screen_resume(self) -> None:
        """Read again (after an edit, for instance)."""
        self.read_case()

    @work(thread=True, exclusive=True, exit_on_error=False, group="case-read")
    def read_case(self) -> None:
        """The case and its reviews, on a worker."""
        from villagebook.services.cases import get_case, reviews_of
        from villagebook.services.explain import record_lines
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store

        with Store(self.home) as store:
            case = get_case(store, self.case_id)
            self.post_message(CaseRead(
                case, reviews_of(store, self.case_id),
                record_lines("case", case, skip=("title", "unit_code")),
                unit_name(store, case["unit_code"]) or case["unit_code"]))

    def on_case_read(self, message: CaseRead) -> None:
        """Show the case."""
        self.case = message.case
        text = detail_text(message.case["title"] or "", message.unit, message.lines)
        if message.reviews:
            text.append("\n" + _("Review decisions") + "\n", style="bold underline")
        for review in message.reviews:
            decision = _(ReviewDecision(review["decision"]).label)
            text.append(safe_text(_("{date} {reviewer}: {decision}").format(
                date=review["date"], reviewer=review["reviewer"], decision=decision)) + "\n",
                style="bold")
            if review["comment"]:
                text.append(safe_text(review["comment"]) + "\n")
        self.query_one("#detail", Static).update(text)
        status = CaseStatus(message.case["status"] or "draft")
        hint = (_("e edit · s submit for review · Del delete") if status in CASE_EDITABLE
                else _("This case is {status}: it can no longer be edited").format(
                    status=_(status.label)))
        self.query_one("#detail-status", Static).update(Text(hint))

    def action_edit(self) -> None:
        """The case's form (a case under review or decided cannot be edited)."""
        from villagebook.screens.case_form import CaseFormScreen

        status = CaseStatus((self.case or {}).get("status") or "draft")
        if status not in CASE_EDITABLE:
            self.notify(_("This case is {status}: it can no longer be edited").format(
                status=_(status.label)), markup=False, severity="warning")
            return
        self.app.push_screen(CaseFormScreen(self.home, self.case_id))

    def action_submit(self) -> None:
        """Ask, then submit for review."""
        from villagebook.screens.confirm_dialog import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.change_case(False)

        self.app.push_screen(ConfirmDialog(
            _("Submit this case to the township for review? It cannot be edited "
              "while under review."), yes=_("Submit"), no=_("Not yet")), answered)

    def action_delete(self) -> None:
        """Ask, then delete."""
        from villagebook.screens.confirm_dialog import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.change_case(True)

        self.app.push_screen(ConfirmDialog(
            _("Delete this case? The deletion is also sent to the township."),
            yes=_("Delete"), no=_("Keep it")), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="case-change")
    def change_case(self, delete: bool) -> None:
        """Submit or delete through the services (refusals reach the app's handler)."""
        from villagebook.services.cases import delete_case, submit_case
        from villagebook.store.node import Store

        with Store(self.home) as store:
            if delete:
                delete_case(store, self.case_id)
            else:
                submit_case(store, self.case_id)
        self.post_message(CaseChanged(delete))

    def on_case_changed(self, message: CaseChanged) -> None:
        """Say what happened."""
        if message.deleted:
            self.notify(_("Case deleted"), markup=False)
            self.app.pop_screen()
        else:
            self.notify(_("Case submitted for review"), markup=False)
            self.read_case()
