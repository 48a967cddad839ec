"""District scoring: approved cases waiting for experts, scored ones with their spread.

`s` opens the score form for the highlighted case; an expert who scores a case
again corrects their earlier score. The case's score is the experts' mean.
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

from villagebook.i18n import N_, _
from villagebook.screens.score_form import ScoreEntry, ScoreForm
from villagebook.screens.widgets.attachment_panel import append_evidence
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class CasesLoaded(Message):
    """The list of scorable cases was read."""

    items: list[Any]
    keep: str | None


@dataclass
class ScoresLoaded(Message):
    """One case's detail and expert scores were read."""

    detail: dict[str, Any]


@dataclass
class ScoreSaved(Message):
    """A score was saved, or refused with the reason in `problem`."""

    case_id: str
    problem: str | None = None


def _load_detail(home: Path, case_id: str) -> dict[str, Any]:
    from villagebook.services.attachments import evidence_lines
    from villagebook.services.cases import get_case
    from villagebook.services.evaluation import case_score, is_model, scores_of
    from villagebook.services.explain import explain_case_score, record_lines
    from villagebook.store.node import Store

    with Store(home) as store:
        case = get_case(store, case_id)
        return {
            "id": case_id,
            "title": case["title"] or "",
            "lines": record_lines("case", case, skip=("title", "unit_code")),
            "scores": scores_of(store, case_id),
            "summary": explain_case_score(case_score(store, case_id)),
            "model": is_model(store, case_id),
            "evidence": evidence_lines(store, "case", case_id),
        }


class ScoringScreen(ReportsFailedWorkers, Screen[None]):
    """Experts' scores of approved cases, with each case's mean and spread."""

    DEFAULT_CSS = """
    ScoringScreen #cases { height: 45%; min-height: 5; }
    ScoringScreen #case-scroll { height: 1fr; border-top: solid $accent; padding: 0 1; }
    ScoringScreen #status { height: 1; background: $boost; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "score", N_("Score"), id="scoring.score",
                tooltip=N_("Score the highlighted case")),
        Binding("m", "mark_model", N_("Model case"), id="scoring.model",
                tooltip=N_("Hold the highlighted case up as a model for other units")),
        Binding("x", "export_report", N_("Export"), id="scoring.export",
                tooltip=N_("Write this list as a spreadsheet in the home's reports folder")),
        Binding("escape", "app.pop_screen", N_("Back"), id="scoring.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, expert: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.expert = expert
        self.items: list[Any] = []
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="cases", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(Text(_("Loading…")), id="status")
        with VerticalScroll(id="case-scroll"):
            yield Static(Text(""), id="case")
        yield Footer()

    def on_mount(self) -> None:
        """Set the columns up and read the cases."""
        self.title = _("Expert scoring")
        table = self.query_one("#cases", DataTable)
        for label, width in ((_("Unit"), 12), (_("Case title"), 26), (_("Status"), 10),
                             (_("Expert score"), 8), (_("Experts"), 6), (_("Spread"), 7)):
            table.add_column(label, width=width)
        self.load_cases(None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cases")
    def load_cases(self, keep: str | None) -> None:
        """Read approved and scored cases."""
        from villagebook.services.evaluation import scorable_cases
        from villagebook.store.node import Store

        with Store(self.home) as store:
            self.post_message(CasesLoaded(scorable_cases(store), keep))

    def on_cases_loaded(self, message: CasesLoaded) -> None:
        """Fill the table, keeping the highlighted case where it was."""
        from villagebook.domain.enums import CaseStatus
        from villagebook.services.explain import points

        self.items = message.items
        table = self.query_one("#cases", DataTable)
        table.clear()
        for item in self.items:
            score = item.score
            table.add_row(
                # The villages' words: escapes shown as text, never sent to the terminal.
                Text(safe_text(item.unit_name)), Text(safe_text(item.title)),
                Text(_(CaseStatus(item.status).label)),
                Text(points(score.mean) if score else "-", justify="right"),
                Text(str(score.experts) if score else "0", justify="right"),
                Text(f"{score.low}–{score.high}" if score else "", justify="right"),
                key=item.case_id)
        waiting = sum(1 for item in self.items if item.score is None)
        self._set_status(_("{count} cases, {waiting} waiting for experts").format(
            count=len(self.items), waiting=waiting))
        keys = [item.case_id for item in self.items]
        if message.keep in keys:
            table.move_cursor(row=keys.index(message.keep))
        table.focus()

    @on(DataTable.RowHighlighted, "#cases")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        case_id = event.row_key.value
        if case_id:
            self.current = case_id
            self.load_case(case_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="case")
    def load_case(self, case_id: str) -> None:
        """Read one case and its scores."""
        self.post_message(ScoresLoaded(_load_detail(self.home, case_id)))

    def on_scores_loaded(self, message: ScoresLoaded) -> None:
        """Show the case's scores, then its content."""
        detail = message.detail
        if detail["id"] != self.current:
            return
        text = Text()
        text.append(safe_text(detail["title"]) + "\n", style="bold")
        text.append(safe_text(detail["summary"]) + "\n", style="bold green")
        if detail["model"]:
            text.append(_("Model case") + "\n", style="bold yellow")
        for score in detail["scores"]:
            text.append(_("{expert}: {score} points ({date})").format(
                expert=safe_text(score["expert"]), score=score["score"], date=score["date"]) + "\n")
            if score["comment"]:
                text.append("    " + _safe_lines(score["comment"]) + "\n", style="italic")
        text.append("\n")
        for label, value in detail["lines"]:
            text.append(label + _(": "), style="bold")
            text.append(_safe_lines(value) + "\n")
        append_evidence(text, detail["evidence"])
        self.query_one("#case", Static).update(text)

    def _set_status(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(message))

    def action_score(self) -> None:
        """Open the score form for the highlighted case."""
        case_id = self.current
        item = next((i for i in self.items if i.case_id == case_id), None)
        if item is None:
            return

        def entered(entry: ScoreEntry | None) -> None:
            if entry is not None:
                self.expert = entry.expert.strip() or self.expert
                self.save_score(item.case_id, entry)

        self.app.push_screen(ScoreForm(item.title, self.expert), entered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def save_score(self, case_id: str, entry: ScoreEntry) -> None:
        """Save the expert's score."""
        from villagebook.domain.validation import ValidationError
        from villagebook.services.errors import Refused
        from villagebook.services.evaluation import score_case
        from villagebook.services.messages import describe
        from villagebook.store.node import Store

        with Store(self.home) as store:
            try:
                score_case(store, case_id, entry.expert, entry.score, entry.comment or None)
            except (Refused, ValidationError) as error:
                self.post_message(ScoreSaved(case_id, describe(error, "score")))
                return
        self.post_message(ScoreSaved(case_id))

    def on_score_saved(self, message: ScoreSaved) -> None:
        """Say what happened and show the new mean."""
        if message.problem:
            self._set_status(message.problem)
            return
        self.notify(_("Score saved"))
        self.load_cases(message.case_id)
        self.load_case(message.case_id)

    def action_export_report(self) -> None:
        """Write the case report into the home's reports folder."""
        from villagebook.screens.widgets.report_export import write_report_from

        write_report_from(self, self.home, "case", None)

    def action_mark_model(self) -> None:
        """Ask why the highlighted case is a model, then mark it."""
        from villagebook.screens.comment_modal import CommentModal

        case_id = self.current
        if case_id is None:
            return

        def cited(citation: str | None) -> None:
            if citation is not None:
                self.mark_model(case_id, citation)

        self.app.push_screen(CommentModal(_("Why is this case a model?"), required=False),
                             cited)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def mark_model(self, case_id: str, citation: str) -> None:
        """Mark the case as a model, signed by this district."""
        from villagebook.services.errors import Refused
        from villagebook.services.evaluation import mark_model
        from villagebook.services.messages import describe
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store

        with Store(self.home) as store:
            who = unit_name(store, store.node.unit_code) or store.node.unit_code
            try:
                mark_model(store, case_id, who, citation or None)
            except Refused as error:
                self.post_message(ScoreSaved(case_id, describe(error)))
                return
        self.app.call_from_thread(
            self.notify, _("Case {id} is now a model case").format(id=case_id))
        self.app.call_from_thread(self.load_case, case_id)


def _safe_lines(value: object) -> str:
    """A long text keeps its line breaks; every other control character is escaped."""
    return "\n".join(safe_text(part) for part in str(value).split("\n"))
