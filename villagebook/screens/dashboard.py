"""The dashboard: cases by status and direction, the ledger's open, overdue and
recently resolved problems, and what has not been sent yet. Every line opens
the list behind it (Enter, or a click)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from villagebook.domain.enums import CaseStatus, Direction, ProblemStatus, Role
from villagebook.i18n import N_, _
from villagebook.screens.widgets.bar_chart import bar_line, pad, widths
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class FiguresRead(Message):
    """The dashboard's figures were read."""

    figures: Any


# The problem panel's own labels, beside the problem statuses.
_OPEN, _OVERDUE, _THIS_MONTH, _LAST_EXPORT = (
    N_("Open"), N_("Overdue"), N_("Resolved this month"), N_("Last export"))
_PROBLEM_LABELS = (_OPEN, _OVERDUE, _THIS_MONTH, _LAST_EXPORT)


def _heading(text: str) -> Option:
    return Option(Text(text, style="bold"), disabled=True)


class DashboardScreen(ReportsFailedWorkers, Screen[None]):
    """The first screen after start-up: where things stand, at a glance."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "app.open('cases')", N_("Cases"), id="dashboard.cases", show=False,
                tooltip=N_("All innovation cases")),
        Binding("p", "app.open('problems')", N_("Problem ledger"), show=False,
                id="dashboard.problems",
                tooltip=N_("The problem ledger")),
        Binding("n", "app.open_new('case')", N_("New case"), id="dashboard.new_case",
                tooltip=N_("Log a new innovation case")),
        Binding("a", "app.open_new('problem')", N_("Add problem"),
                id="dashboard.new_problem", tooltip=N_("Add an entry to the problem ledger")),
        Binding("r", "reload", N_("Refresh"), id="dashboard.refresh", show=False,
                tooltip=N_("Read the figures again")),
        Binding("tab", "app.focus_next", N_("Next column"), show=False,
                id="dashboard.next", tooltip=N_("Move between the two columns")),
    ]

    def __init__(self, home: Path, figures: Any = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.figures: Any = None
        #: Figures read at start-up (before the screen existed), shown without a re-read.
        self.prefetched = figures

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(_("Loading…")), id="unit-line")
        with Horizontal(id="figures-row"):
            yield OptionList(id="case-figures")
            yield OptionList(id="problem-figures")
        yield Static(Text(_("Enter opens the list behind a figure · F1 help · Ctrl+P find")),
                     classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        """Title, then the figures (read on a worker)."""
        self.title = _("Dashboard")
        self.query_one("#case-figures", OptionList).border_title = _("Innovation cases")
        self.query_one("#problem-figures", OptionList).border_title = _("Problem ledger")
        self.query_one("#case-figures", OptionList).focus()
        if self.prefetched is not None:
            self.figures = self.prefetched
            self._draw()

    def on_screen_resume(self) -> None:
        """Fresh figures whenever the dashboard comes back into view."""
        if self.prefetched is not None:
            self.prefetched = None
            return
        self.action_reload()

    def action_reload(self) -> None:
        """Read the figures again."""
        self.read_figures()

    @work(thread=True, exclusive=True, exit_on_error=False, group="figures")
    def read_figures(self) -> None:
        """Count everything on a worker thread."""
        from villagebook.services.dashboard import read_figures

        self.post_message(FiguresRead(read_figures(self.home)))

    def on_figures_read(self, message: FiguresRead) -> None:
        """Draw the figures."""
        self.figures = message.figures
        self._draw()

    def on_resize(self) -> None:
        """Bars grow with the terminal."""
        if self.figures is not None:
            self._draw()

    def _draw(self) -> None:
        found = self.figures
        role = _(Role(found.role).label)
        self.query_one("#unit-line", Static).update(Text(safe_text(
            _("{unit} ({code}) · {role} · today {today}").format(
                unit=found.unit_name, code=found.unit_code, role=role, today=found.today))))
        width = max(36, self.size.width // 2 - 4)
        case_labels = [_(choice.label) for choice in (*CaseStatus, *Direction)]
        problem_labels = [_(label) for label in _PROBLEM_LABELS]
        problem_labels += [_(status.label) for status in ProblemStatus]
        self._fill("#case-figures", self._case_options(found, *widths(case_labels, width)))
        self._fill("#problem-figures",
                   self._problem_options(found, *widths(problem_labels, width)))

    def _fill(self, selector: str, options: list[Option]) -> None:
        widget = self.query_one(selector, OptionList)
        highlighted = widget.highlighted
        widget.clear_options()
        widget.add_options(options)
        if highlighted is not None:
            widget.highlighted = min(highlighted, widget.option_count - 1)

    def _case_options(self, found: Any, label_width: int, bar_width: int) -> list[Option]:
        options = [_heading(_("By status"))]
        largest = max(found.cases_by_status.values(), default=0)
        for status in CaseStatus:
            options.append(Option(bar_line(_(status.label), found.cases_by_status[status.value],
                                           largest, label_width=label_width,
                                           bar_width=bar_width),
                                  id=f"case:status={status.value}"))
        options.append(_heading(_("By direction")))
        largest = max(found.cases_by_direction.values(), default=0)
        for direction in Direction:
            options.append(Option(bar_line(_(direction.label),
                                           found.cases_by_direction[direction.value], largest,
                                           label_width=label_width, bar_width=bar_width,
                                           style="cyan"),
                                  id=f"case:direction={direction.value}"))
        total = sum(found.cases_by_status.values())
        options.append(Option(Text(pad(_("All cases"), label_width + bar_width + 1)
                                   + f" {total:>6,}"), id="case:all"))
        return options

    def _problem_options(self, found: Any, label_width: int, bar_width: int) -> list[Option]:
        largest = max(found.problems_open, found.problems_overdue,
                      found.problems_resolved_this_month, 1)

        def line(label: str, value: int, style: str = "") -> Text:
            return bar_line(label, value, largest, label_width=label_width,
                            bar_width=bar_width, style=style)

        overdue = line(_(_OVERDUE), found.problems_overdue, "bold red")
        if found.problems_overdue:
            overdue.stylize("bold red", 0, label_width)
        options = [
            _heading(_("Problems")),
            Option(line(_(_OPEN), found.problems_open), id="problem:open"),
            Option(overdue, id="problem:overdue"),
            Option(line(_(_THIS_MONTH), found.problems_resolved_this_month, "green"),
                   id="problem:month"),
            _heading(_("By status")),
        ]
        by_status = max(found.problems_by_status.values(), default=0)
        for status in ProblemStatus:
            options.append(Option(bar_line(_(status.label),
                                           found.problems_by_status[status.value], by_status,
                                           label_width=label_width, bar_width=bar_width),
                                  id=f"problem:status={status.value}"))
        options.append(_heading(_("Sending")))
        options.append(Option(Text(pad(_("Changes not yet sent"), label_width + bar_width + 1)
                                   + f" {found.unsent_changes:>6,}"), id="nav:sync"))
        from villagebook.services.dashboard import local_moment

        last = safe_text(local_moment(found.last_export_at) if found.last_export_at
                         else _("never"))
        options.append(Option(Text(pad(_(_LAST_EXPORT), label_width) + " " + last),
                              id="nav:sync-last"))
        return options

    @on(OptionList.OptionSelected)
    def _open_figure(self, event: OptionList.OptionSelected) -> None:
        target = event.option.id or ""
        kind, _sep, spec = target.partition(":")
        if kind == "nav":
            self.app.action_open("sync")  # type: ignore[attr-defined]
            return
        filters: dict[str, str] = {}
        overdue = spec == "overdue"
        open_only = spec == "open"
        if spec == "month":
            spec = f"status={ProblemStatus.RESOLVED.value}"
        if "=" in spec:
            name, _eq, value = spec.partition("=")
            filters[name] = value
        if kind == "case":
            from villagebook.screens.case_list import CaseListScreen

            self.app.push_screen(CaseListScreen(self.home, filters=filters))
        elif kind == "problem":
            from villagebook.screens.problem_list import ProblemListScreen

            self.app.push_screen(ProblemListScreen(self.home, filters=filters,
                                                   overdue_only=overdue, open_only=open_only))
