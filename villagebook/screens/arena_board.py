"""The arena board (擂台赛): a period's ranking as a bar chart, Cheetah and Sloth marked.

Villages and communities, and sections, are ranked apart; `g` switches group.
The highlighted unit's score is explained line by line below the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text

BAR_WIDTH = 24
_AWARD_STYLE = {"cheetah": "bold yellow", "sloth": "dim"}


@dataclass
class RankingLoaded(Message):
    """The ranking was computed (or refused, with the reason in `problem`)."""

    ranking: Any
    problem: str | None = None


def bar(total: float, best: float, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar for `total` on a scale whose full width is `best`."""
    if total <= 0 or best <= 0:
        return Text("")
    eighths = round(total / best * width * 8)
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest].strip()
    return Text("█" * full + partial, style="green")


class ArenaBoardScreen(ReportsFailedWorkers, Screen[None]):
    """The ranking of a period with a bar chart and the awards."""

    DEFAULT_CSS = """
    ArenaBoardScreen #heading { height: 1; background: $boost; padding: 0 1; }
    ArenaBoardScreen #board { height: 1fr; min-height: 6; }
    ArenaBoardScreen #why { height: auto; max-height: 8; border-top: solid $accent; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "switch_group", N_("Switch group"), id="arena.group",
                tooltip=N_("Villages and communities, or sections")),
        Binding("p", "choose_period", N_("Period"), id="arena.period",
                tooltip=N_("Rank another period: a year, half, quarter or month")),
        Binding("x", "export_report", N_("Export"), id="arena.export",
                tooltip=N_("Write this list as a spreadsheet in the home's reports folder")),
        Binding("escape", "app.pop_screen", N_("Back"), id="arena.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, period: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.period = period
        self.ranking: Any = None
        self.group = "village"

    def compose(self) -> ComposeResult:
        yield Static(Text(_("Loading…")), id="heading")
        table: DataTable[Text] = DataTable(id="board", cursor_type="row")
        yield table
        yield Static(Text(""), id="why")
        yield Footer()

    def on_mount(self) -> None:
        """Set the columns up and compute the ranking."""
        self.title = _("Arena board")
        table = self.query_one("#board", DataTable)
        for label, width in ((_("Rank"), 4), (_("Unit"), 14), (_("Township / street"), 10),
                             (_("Points"), 7), ("", BAR_WIDTH), (_("Award"), 8)):
            table.add_column(label, width=width)
        self.load_ranking()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load_ranking(self) -> None:
        """Compute the ranking from the records."""
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe
        from villagebook.services.ranking import rank
        from villagebook.store.node import Store

        with Store(self.home) as store:
            try:
                self.post_message(RankingLoaded(rank(store, self.period)))
            except Refused as error:
                self.post_message(RankingLoaded(None, describe(error)))

    def on_ranking_loaded(self, message: RankingLoaded) -> None:
        """Show the ranking of the current group."""
        if message.problem:
            self.query_one("#heading", Static).update(Text(message.problem))
            return
        self.ranking = message.ranking
        self._fill()

    def _fill(self) -> None:
        from villagebook.services.explain import award_label, group_label, points

        ranking = self.ranking
        members = ranking.groups[self.group]
        self.query_one("#heading", Static).update(Text(
            _("{group}, period {period} (as of {date}): {count} units").format(
                group=group_label(self.group), period=ranking.period.code,
                date=ranking.as_of.isoformat(), count=len(members))))
        table = self.query_one("#board", DataTable)
        table.clear()
        best = max((u.total for u in members), default=0.0)
        for unit in members:
            style = _AWARD_STYLE.get(unit.award or "", "")
            table.add_row(
                # Unit names come from the units themselves: escapes shown as text.
                Text(str(unit.rank), justify="right"), Text(safe_text(unit.name), style=style),
                Text(safe_text(unit.township_name)), Text(points(unit.total), justify="right",
                                               style="red" if unit.total < 0 else ""),
                bar(unit.total, best), Text(award_label(unit.award), style=style),
                key=unit.code)
        if not members:
            self.query_one("#why", Static).update(Text(_("No units in this group")))
        table.focus()

    @on(DataTable.RowHighlighted, "#board")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        from villagebook.services.explain import explain_line, explain_unit

        if self.ranking is None:
            return
        unit = next((u for u in self.ranking.groups[self.group]
                     if u.code == event.row_key.value), None)
        if unit is None:
            return
        text = Text(safe_text(explain_unit(unit)) + "\n", style="bold")
        for line in unit.lines:
            text.append(safe_text(explain_line(line)) + "\n")
        self.query_one("#why", Static).update(text)

    def action_switch_group(self) -> None:
        """Show the other group."""
        self.group = "section" if self.group == "village" else "village"
        if self.ranking is not None:
            self._fill()

    def action_export_report(self) -> None:
        """Write the rank report into the home's reports folder."""
        from villagebook.screens.widgets.report_export import write_report_from

        write_report_from(self, self.home, "rank", self.period)

    def action_choose_period(self) -> None:
        """Ask for another period and rank it."""
        from villagebook.screens.comment_modal import CommentModal

        def chosen(period: str | None) -> None:
            if period:
                self.period = period
                self.load_ranking()

        current = self.ranking.period.code if self.ranking is not None else ""
        self.app.push_screen(CommentModal(_("Period (2026, 2026-H1, 2026-Q3 or 2026-05)"),
                                          required=False, initial=current), chosen)
