"""Commands of township review and district evaluation: review, queue, ledgers,
score, rubric, rank, model, adopt and report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from villagebook.cli.base import Context, cli, pass_context, user_errors
from villagebook.cli.output import echo_data
from villagebook.i18n import _


def _echo_json(document: Any) -> None:
    echo_data(json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1))


@cli.command()
@click.argument("case_id")
@click.option("--approve", "decision", flag_value="approve", help="Approve the case.")
@click.option("--return", "decision", flag_value="return",
              help="Return the case for revision (needs --comment).")
@click.option("--comment", default="", help="What the unit should know or revise.")
@click.option("--reviewer", default=None,
              help="Who decides (default: this township's name).")
@pass_context
def review(obj: Context, case_id: str, decision: str | None, comment: str,
           reviewer: str | None) -> None:
    """Township decision on a submitted case: --approve or --return."""
    from villagebook.domain.enums import ReviewDecision
    from villagebook.services.oversight import decide
    from villagebook.services.setup import unit_name

    if decision is None:
        raise click.UsageError(_("Say --approve or --return"))
    with user_errors("review"), obj.open() as store:
        who = reviewer or unit_name(store, store.node.unit_code) or store.node.unit_code
        decide(store, case_id, ReviewDecision(decision), comment, who)
    message = (_("Approved case {id}") if decision == "approve"
               else _("Returned case {id} for revision"))
    click.echo(message.format(id=case_id))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def queue(obj: Context, as_json: bool) -> None:
    """The township's review queue: submitted cases of its units, oldest first."""
    from villagebook.services.messages import safe_text
    from villagebook.services.oversight import review_queue

    with user_errors(), obj.open() as store:
        waiting = review_queue(store)
    if as_json:
        _echo_json([{"id": q.case_id, "unit_code": q.unit_code, "unit_name": q.unit_name,
                     "title": q.title, "lead_person": q.lead_person,
                     "returned_before": q.returned_before} for q in waiting])
        return
    for item in waiting:
        click.echo(f"{item.case_id}\t{safe_text(item.unit_name)}\t{safe_text(item.title)}")
    if not waiting:
        click.echo(_("No cases are waiting for review"), err=True)


@cli.command()
@click.option("--unit", "unit_code", default=None, help="Only this unit's ledger.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def ledgers(obj: Context, unit_code: str | None, as_json: bool) -> None:
    """Ledger entries of this node's units, overdue first."""
    from villagebook.services.messages import safe_text
    from villagebook.services.oversight import ledger_overview

    with user_errors(), obj.open() as store:
        rows = ledger_overview(store, unit_code)
    if as_json:
        _echo_json([{"id": r.problem_id, "unit_code": r.unit_code, "title": r.title,
                     "status": r.status, "deadline": r.deadline, "overdue": r.overdue}
                    for r in rows])
        return
    for row in rows:
        flag = _("Overdue") if row.overdue else ""
        click.echo(f"{row.problem_id}\t{safe_text(row.unit_name)}\t{row.deadline or '-'}\t"
                   f"{flag}\t{safe_text(row.title)}")


@cli.command()
@click.argument("case_id")
@click.option("--expert", required=True, help="The expert's name.")
@click.option("--score", "value", required=True, metavar="0-100", help="The score, 0 to 100.")
@click.option("--comment", default=None, help="The expert's comment (a correction "
              "without one keeps the earlier comment).")
@click.option("--date", "day", default=None,
              help="When the expert scored, e.g. 2026-05-08 (default: today).")
@pass_context
def score(obj: Context, case_id: str, expert: str, value: str, comment: str | None,
          day: str | None) -> None:
    """District expert score of an approved case (an expert scoring again corrects it)."""
    from villagebook.services.evaluation import case_score, score_case
    from villagebook.services.explain import explain_case_score

    with user_errors("score"), obj.open() as store:
        score_case(store, case_id, expert, value, comment, day)
        summary = case_score(store, case_id)
    click.echo(_("Scored case {id}: {summary}").format(
        id=case_id, summary=explain_case_score(summary)))


@cli.group()
def rubric() -> None:
    """The district's rubric: the weights of the unit score, per period."""


@rubric.command(name="show")
@click.option("--period", default=None, help="2026, 2026-H1, 2026-Q3 or 2026-05 "
                                             "(default: this year).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def rubric_show(obj: Context, period: str | None, as_json: bool) -> None:
    """Show the rubric of a period."""
    from villagebook.services.evaluation import period_of, rubric_for

    with user_errors("rubric"), obj.open() as store:
        chosen = period_of(period or str(store.today().year))
        values, set_here = rubric_for(store, chosen)
    _print_rubric(chosen.code, values, set_here, as_json)


def _print_rubric(period: str, values: dict[str, int], set_here: bool, as_json: bool) -> None:
    from villagebook.services.messages import field_label

    if as_json:
        _echo_json({"period": period, **values, "source": "district" if set_here else "default"})
        return
    heading = (_("Rubric of {period}, set by the district") if set_here
               else _("Rubric of {period}: the default (the district has not set one)"))
    click.echo(heading.format(period=period))
    for name, value in values.items():
        click.echo(f"  {name}\t{value}\t{field_label('rubric', name)}")


@rubric.command(name="set")
@click.argument("assignments", nargs=-1, required=True, metavar="NAME=VALUE...")
@click.option("--period", default=None, help="2026, 2026-H1, 2026-Q3 or 2026-05 "
                                             "(default: this year).")
@pass_context
def rubric_set(obj: Context, assignments: tuple[str, ...], period: str | None) -> None:
    """Set weights of the rubric, e.g. weight_expert=50 top_n=5 (district only)."""
    from villagebook.services.evaluation import period_of, rubric_for, set_rubric

    values: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(_("Expected NAME=VALUE, got {text}").format(text=assignment))
        values[name.strip()] = value
    with user_errors("rubric"), obj.open() as store:
        chosen = period_of(period or str(store.today().year))
        set_rubric(store, chosen.code, values)
        current, set_here = rubric_for(store, chosen)
    _print_rubric(chosen.code, current, set_here, False)


@cli.command(name="rank")
@click.option("--period", default=None, help="2026, 2026-H1, 2026-Q3 or 2026-05 "
                                             "(default: this year).")
@click.option("--json", "as_json", is_flag=True, help="Print the ranking as JSON.")
@pass_context
def rank_(obj: Context, period: str | None, as_json: bool) -> None:
    """Rank units (villages and sections apart) with the Cheetah and Sloth awards."""
    from villagebook.services.explain import explain_line, explain_unit, group_label
    from villagebook.services.messages import safe_text
    from villagebook.services.ranking import rank, ranking_json

    with user_errors(), obj.open() as store:
        ranking = rank(store, period)
    if as_json:
        click.echo(ranking_json(ranking))
        return
    source = (_("rubric set by the district") if ranking.rubric_set
              else _("default rubric"))
    click.echo(_("Ranking of {period} as of {date} ({source})").format(
        period=ranking.period.code, date=ranking.as_of.isoformat(), source=source))
    for kind, members in ranking.groups.items():
        click.echo("")
        click.echo(_("{group}: {count} units").format(group=group_label(kind),
                                                       count=len(members)))
        for unit in members:
            click.echo(safe_text(explain_unit(unit)))
            for line in unit.lines:
                click.echo("    " + explain_line(line))


@cli.group()
def model() -> None:
    """Model cases (示范推广) that other units may adopt."""


@model.command(name="mark")
@click.argument("case_id")
@click.option("--by", "marked_by", default=None, help="Who decides (default: the district).")
@click.option("--citation", default=None, help="Why the case is a model.")
@pass_context
def model_mark(obj: Context, case_id: str, marked_by: str | None,
               citation: str | None) -> None:
    """Mark an approved or scored case as a model (district only)."""
    from villagebook.services.evaluation import mark_model
    from villagebook.services.setup import unit_name

    with user_errors("model_case"), obj.open() as store:
        who = marked_by or unit_name(store, store.node.unit_code) or store.node.unit_code
        mark_model(store, case_id, who, citation)
    click.echo(_("Case {id} is now a model case").format(id=case_id))


@model.command(name="withdraw")
@click.argument("case_id")
@pass_context
def model_withdraw(obj: Context, case_id: str) -> None:
    """Stop holding a case up as a model (district only)."""
    from villagebook.services.evaluation import withdraw_model

    with user_errors("model_case"), obj.open() as store:
        withdraw_model(store, case_id)
    click.echo(_("Case {id} is no longer a model case").format(id=case_id))


@model.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def model_list(obj: Context, as_json: bool) -> None:
    """Model cases known on this node, with their adoptions."""
    from villagebook.services.evaluation import model_cases
    from villagebook.services.messages import safe_text

    with user_errors(), obj.open() as store:
        models = model_cases(store)
    if as_json:
        _echo_json(models)
        return
    for item in models:
        click.echo(f"{item['id']}\t{safe_text(item['unit_name'])}\t{safe_text(item['title'])}\t"
                   + _("{count} adoptions").format(count=item["adoptions"]))


@cli.command()
@click.argument("case_id")
@click.option("--lead", "lead_person", required=True, help="Who leads the adopted case here.")
@click.option("--title", default=None, help="The new case's title (default: the model's).")
@pass_context
def adopt(obj: Context, case_id: str, lead_person: str, title: str | None) -> None:
    """Adopt a model case: a new draft of this unit's own, linked to the model."""
    from villagebook.services.evaluation import adopt_case

    with user_errors("case"), obj.open() as store:
        new_id = adopt_case(store, case_id, lead_person, title)
    click.echo(_("Adopted as case {id} (a draft; edit and submit it)").format(id=new_id))


@cli.command()
@click.option("--kind", type=click.Choice(["case", "problem", "rank", "dossier"]),
              required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The file to write: .xlsx or .csv (.docx for a dossier).")
@click.option("--period", default=None, help="The ranking's period (for --kind rank).")
@click.option("--case", "case_id", default=None,
              help="The case of a dossier (default: every approved case under this node).")
@pass_context
def report(obj: Context, kind: str, out: Path, period: str | None,
           case_id: str | None) -> None:
    """Write a ledger-style report for Excel/WPS (.xlsx, or .csv with a BOM), or a
    Word dossier of one case or of every approved case (--kind dossier, .docx)."""
    from villagebook.services.reports import write_report

    with user_errors("case"), obj.open() as store:
        if kind == "dossier":
            from villagebook.services.dossier import write_dossier

            count = write_dossier(store, out, case_id)
            click.echo(_("Wrote {count} cases to {path}").format(count=count, path=out))
            return
        rows = write_report(store, kind, out, period)
    click.echo(_("Wrote {count} rows to {path}").format(count=rows, path=out))
