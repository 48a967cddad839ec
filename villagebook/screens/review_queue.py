"""The township's review queue: submitted cases, oldest first, judged from the keyboard.

`a` approves the highlighted case, `r` returns it with a comment; the next case
then opens by itself. Every database call runs in a worker thread with its own
store, so a slow laptop never freezes the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from villagebook.domain.enums import ReviewDecision
from villagebook.i18n import N_, _
from villagebook.screens.comment_modal import CommentModal
from villagebook.screens.widgets.attachment_panel import append_evidence
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class QueueLoaded(Message):
    """The queue was read; `case` is the detail of the case to show first."""

    items: list[Any]
    detail: dict[str, Any] | None


@dataclass
class CaseLoaded(Message):
    """One case's detail (its fields and earlier reviews) was read."""

    detail: dict[str, Any]


@dataclass
class CaseDecided(Message):
    """A decision was saved (or refused, with the reason in `problem`)."""

    case_id: str
    approved: bool
    problem: str | None = None


def load_detail(home: Path, case_id: str) -> dict[str, Any]:
    """A case's fields and reviews, read on a worker thread."""
    from villagebook.services.attachments import evidence_lines
    from villagebook.services.cases import get_case, reviews_of
    from villagebook.services.explain import record_lines
    from villagebook.services.setup import unit_name
    from villagebook.store.node import Store

    with Store(home) as store:
        case = get_case(store, case_id)
        return {
            "id": case_id,
            "title": case["title"] or "",
            "unit": unit_name(store, case["unit_code"]) or case["unit_code"],
            "lines": record_lines("case", case, skip=("title", "unit_code", "status")),
            "reviews": reviews_of(store, case_id),
            "evidence": evidence_lines(store, "case", case_id),
        }


class ReviewQueueScreen(ReportsFailedWorkers, Screen[None]):
    """Submitted cases of this township's units; approve or return without the mouse."""

    DEFAULT_CSS = """
    ReviewQueueScreen #queue { height: 40%; min-height: 5; }
    ReviewQueueScreen #detail-scroll { height: 1fr; border-top: solid $accent; padding: 0 1; }
    ReviewQueueScreen #status { height: 1; background: $boost; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", N_("Approve"), id="review.approve",
                tooltip=N_("Approve the highlighted case")),
        Binding("r", "return_case", N_("Return"), id="review.return",
                tooltip=N_("Return the highlighted case with a comment")),
        Binding("escape", "app.pop_screen", N_("Back"), id="review.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, reviewer: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.reviewer = reviewer
        self.items: list[Any] = []
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(Text(_("Loading…")), id="status")
        with VerticalScroll(id="detail-scroll"):
            yield Static(Text(""), id="detail")
        yield Footer()

    def on_mount(self) -> None:
        """Set the columns up and read the queue."""
        self.title = _("Review queue")
        table = self.query_one("#queue", DataTable)
        # Fixed widths (in cells; a Chinese character takes two): the layout holds at
        # 80 columns and does not depend on when the table measures its content.
        for label, width in ((_("Unit"), 12), (_("Case title"), 36), (_("Lead person"), 8),
                             (_("Returned before"), 10)):
            table.add_column(label, width=width)
        self.load_queue(0)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue")
    def load_queue(self, keep_row: int) -> None:
        """Read the queue; show the case at `keep_row` (the next one after a decision)."""
        from villagebook.services.oversight import review_queue
        from villagebook.store.node import Store

        with Store(self.home) as store:
            items = review_queue(store)
        row = min(keep_row, len(items) - 1)
        detail = load_detail(self.home, items[row].case_id) if items else None
        self.post_message(QueueLoaded(items, detail))

    def on_queue_loaded(self, message: QueueLoaded) -> None:
        """Fill the table and open the first (or next) case."""
        self.items = message.items
        table = self.query_one("#queue", DataTable)
        table.clear()
        for item in self.items:
            # A village's words: escapes shown as text, never sent to the terminal.
            table.add_row(Text(safe_text(item.unit_name)), Text(safe_text(item.title)),
                          Text(safe_text(item.lead_person)),
                          Text(str(item.returned_before or "")), key=item.case_id)
        self._set_status(_("{count} cases waiting for review").format(count=len(self.items))
                         if self.items else _("No cases are waiting for review"))
        if message.detail is not None:
            index = next(i for i, q in enumerate(self.items)
                         if q.case_id == message.detail["id"])
            table.move_cursor(row=index)
            self._show(message.detail)
        else:
            self.current = None
            self.query_one("#detail", Static).update(Text(""))
        table.focus()

    @on(DataTable.RowHighlighted, "#queue")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        case_id = event.row_key.value
        if case_id and case_id != self.current:
            self.current = case_id
            self.load_case(case_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="case")
    def load_case(self, case_id: str) -> None:
        """Read one case's detail."""
        self.post_message(CaseLoaded(load_detail(self.home, case_id)))

    def on_case_loaded(self, message: CaseLoaded) -> None:
        """Show the case that was read, if it is still the highlighted one."""
        if message.detail["id"] == self.current:
            self._show(message.detail)

    def _show(self, detail: dict[str, Any]) -> None:
        self.current = detail["id"]
        text = Text()
        text.append(safe_text(detail["title"]) + "\n", style="bold")
        text.append(safe_text(detail["unit"]) + "\n\n", style="italic")
        for label, value in detail["lines"]:
            text.append(label + _(": "), style="bold")
            text.append(_safe_lines(value) + "\n")
        for review in detail["reviews"]:
            decision = _(ReviewDecision(review["decision"]).label)
            text.append("\n" + _("{date} {reviewer}: {decision}").format(
                date=review["date"], reviewer=safe_text(review["reviewer"]),
                decision=decision) + "\n",
                style="bold")
            if review["comment"]:
                text.append(_safe_lines(review["comment"]) + "\n")
        append_evidence(text, detail["evidence"])
        self.query_one("#detail", Static).update(text)
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)

    def _set_status(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(message))

    def action_approve(self) -> None:
        """Approve the highlighted case."""
        if self.current:
            self.decide(self.current, ReviewDecision.APPROVE, "")

    def action_return_case(self) -> None:
        """Ask for a comment, then return the highlighted case."""
        case_id = self.current
        if not case_id:
            return

        def returned(comment: str | None) -> None:
            if comment:
                self.decide(case_id, ReviewDecision.RETURN, comment)

        self.app.push_screen(CommentModal(_("What should the unit revise?")), returned)

    @work(thread=True, exclusive=True, exit_on_error=False, group="decide")
    def decide(self, case_id: str, decision: ReviewDecision, comment: str) -> None:
        """Save the decision (a review record and the case's new status)."""
        from villagebook.domain.validation import ValidationError
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe
        from villagebook.services.oversight import decide
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store

        approved = decision is ReviewDecision.APPROVE
        with Store(self.home) as store:
            reviewer = (self.reviewer or unit_name(store, store.node.unit_code)
                        or store.node.unit_code)
            try:
                decide(store, case_id, decision, comment, reviewer)
            except (Refused, ValidationError) as error:
                self.post_message(CaseDecided(case_id, approved, describe(error, "review")))
                return
        self.post_message(CaseDecided(case_id, approved))

    def on_case_decided(self, message: CaseDecided) -> None:
        """Say what happened and open the next case."""
        if message.problem:
            self._set_status(message.problem)
            return
        row = next((i for i, q in enumerate(self.items) if q.case_id == message.case_id), 0)
        self.notify(_("Approved case {id}").format(id=message.case_id) if message.approved
                    else _("Returned case {id} for revision").format(id=message.case_id))
        self.current = None
        self.load_queue(row)


def _safe_lines(value: object) -> str:
    """A long text keeps its line breaks; every other control character is escaped."""
    return "\n".join(safe_text(part) for part in str(value).split("\n"))
