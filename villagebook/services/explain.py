"""Ranking and scores in words: the sentences the CLI, the screens and reports share."""

from __future__ import annotations

from villagebook.domain.enums import UnitKind
from villagebook.i18n import _
from villagebook.services.evaluation import CaseScore
from villagebook.services.ranking import CHEETAH, SLOTH, Line, UnitScore


def award_label(award: str | None) -> str:
    """The award's name, or nothing."""
    if award == CHEETAH:
        return _("Cheetah Award")
    if award == SLOTH:
        return _("Sloth Award")
    return ""


def group_label(kind: str) -> str:
    """The heading of a ranking group."""
    return _(UnitKind(kind).label)


def points(value: float) -> str:
    """Points as people read them: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def explain_line(line: Line) -> str:
    """One breakdown line as a sentence."""
    f = line.facts
    if line.item == "expert_scores":
        return _("Expert scores: mean case score {mean} over {cases} scored cases, "
                 "{points} of {max} points").format(
            mean=points(f["mean_case_score"]), cases=f["scored_cases"],
            points=points(line.points), max=f["max"])
    if line.item == "approved_cases":
        return _("Approved cases: {count} (full points at {target}), "
                 "{points} of {max} points").format(
            count=f["approved"], target=f["target"], points=points(line.points), max=f["max"])
    if line.item == "resolved_in_time":
        return _("Ledger problems resolved in time: {in_time} of {due} due "
                 "({late} resolved late), {points} of {max} points").format(
            in_time=f["in_time"], due=f["due"], late=f["late"], points=points(line.points),
            max=f["max"])
    return _("Overdue problems: {count} × {per} points, {points} points").format(
        count=f["overdue"], per=f["per_problem"], points=points(line.points))


def explain_unit(unit: UnitScore) -> str:
    """A unit's ranking headline."""
    award = award_label(unit.award)
    line = _("{rank}. {name} ({code}), {township}: {total} points").format(
        rank=unit.rank, name=unit.name, code=unit.code, township=unit.township_name,
        total=points(unit.total))
    return f"{line}  {award}" if award else line


def explain_case_score(summary: CaseScore | None) -> str:
    """A case's score with its spread, or that it has none yet."""
    if summary is None:
        return _("Not scored yet")
    return _("{mean} points (experts: {count}, lowest {low}, highest {high})").format(
        mean=points(summary.mean), count=summary.experts, low=summary.low, high=summary.high)


def display_value(entity_name: str, field_name: str, value: object) -> str:
    """A stored value as users read it: choice labels translated, lists joined, yes/no."""
    from villagebook.domain.fields import ENTITIES

    spec = ENTITIES[entity_name].field(field_name)
    if value is None or value == [] or value == "":
        return ""
    if spec.choices is not None:
        codes = value if isinstance(value, list) else [value]
        labels = []
        for code in codes:
            try:
                labels.append(_(spec.choices(str(code)).label))
            except ValueError:
                labels.append(str(code))
        return "、".join(labels)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def record_lines(entity_name: str, record: dict[str, object],
                 skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(translated label, display value) of every filled field of a record."""
    from villagebook.domain.fields import ENTITIES

    lines = []
    for spec in ENTITIES[entity_name].fields:
        if spec.name in skip:
            continue
        shown = display_value(entity_name, spec.name, record.get(spec.name))
        if shown:
            lines.append((_(spec.label), shown))
    return lines
