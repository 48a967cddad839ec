"""Commands for a node's own records: init, demo, import, search, set, delete, dump."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from villagebook.cli.base import Context, cli, fail, pass_context, user_errors
from villagebook.cli.output import echo_data, utf8_stdout, write_data
from villagebook.i18n import _

if TYPE_CHECKING:
    from villagebook.store.node import Store


@cli.command()
@click.option("--role", type=click.Choice(["village", "township", "district"]), required=True,
              help="This node's level.")
@click.option("--unit", "unit_code", required=True, help="The unit's 12-digit code.")
@click.option("--name", required=True, help="The unit's name, e.g. 白马村.")
@click.option("--parent", "parent_code", default=None,
              help="The parent unit's code (a village's township, a township's district).")
@click.option("--section", is_flag=True, help="The unit is a section/office/station (科室站所).")
@pass_context
def init(obj: Context, role: str, unit_code: str, name: str, parent_code: str | None,
         section: bool) -> None:
    """Set this node up: its unit, its role and a fresh signing key."""
    from villagebook.domain.enums import Role, UnitKind
    from villagebook.sync.identity import set_up_node

    with user_errors("unit"), obj.open(initialised=False) as store:
        kind = UnitKind.SECTION if section else None
        node, fingerprint = set_up_node(store, Role(role), unit_code.strip(), name,
                                        parent_code, kind=kind)
        click.echo(_("Set up {name} ({unit}) as a {role} node in {home}").format(
            name=name, unit=node.unit_code, role=_(Role(role).label), home=obj.home))
        click.echo(_("Signing key fingerprint: {fingerprint}").format(fingerprint=fingerprint))


@cli.command()
@click.option("--cases", default=20, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--problems", default=30, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@pass_context
def demo(obj: Context, cases: int, problems: int, seed: int) -> None:
    """Fill this node with realistic, deterministic demo records."""
    from villagebook.cli.progress import progress_line
    from villagebook.services.demo import generate

    with user_errors(), obj.open() as store, \
            progress_line(_("Demo records"), obj.quiet) as progress:
        summary = generate(store, cases=cases, problems=problems, seed=seed, progress=progress)
    click.echo(_("Demo data: {units} units, {cases} cases, {problems} problems, "
                 "{followups} follow-ups").format(
        units=summary.units, cases=summary.cases, problems=summary.problems,
        followups=summary.followups))


@cli.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["case", "problem"]), default=None,
              help="What the rows are (default: guessed from the headers).")
@click.option("--again", is_flag=True,
              help="Import rows this node imported before once more (default: refuse the file).")
@pass_context
def import_(obj: Context, file: Path, kind: str | None, again: bool) -> None:
    """Load cases or ledger rows from .xlsx or .csv; all rows or none."""
    from villagebook.cli.progress import progress_line
    from villagebook.services.importer import ImportRejected, import_file
    from villagebook.services.messages import describe_field_error, safe_text

    with user_errors(kind), obj.open() as store:
        try:
            with progress_line(_("Rows"), obj.quiet) as progress:
                summary = import_file(store, file, kind, again=again, progress=progress)
        except ImportRejected as rejected:
            for problem in rejected.problems:
                for error in problem.errors:
                    click.echo(_("Row {row}: {problem}").format(
                        row=problem.row,
                        problem=describe_field_error(error, rejected.entity)), err=True)
            fail(_("{count} rows are invalid; nothing was imported").format(
                count=len(rejected.problems)))
    click.echo(_("Took row {row} as the header row").format(row=summary.header_row))
    if summary.ignored_columns:
        click.echo(_("Ignored columns: {columns}").format(
            columns=", ".join(safe_text(column) for column in summary.ignored_columns)))
    message = (_("Imported {count} cases") if summary.kind == "case"
               else _("Imported {count} problems"))
    click.echo(message.format(count=summary.imported))


@cli.command()
@click.argument("text")
@click.option("--kind", type=click.Choice(["case", "problem"]), default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@pass_context
def search(obj: Context, text: str, kind: str | None, limit: int, as_json: bool) -> None:
    """Full-text search: any length of Chinese, English words or digits."""
    from villagebook.services.messages import safe_text
    from villagebook.services.search import search as run_search

    with user_errors(), obj.open() as store:
        hits = run_search(store, text, kind=kind, limit=limit)
    if as_json:
        echo_data(json.dumps([{"kind": h.kind, "id": h.record_id, "title": h.title,
                               "score": round(h.score, 4)} for h in hits], ensure_ascii=False))
        return
    for hit in hits:
        label = _("case") if hit.kind == "case" else _("problem")
        click.echo(f"{label}\t{hit.record_id}\t{safe_text(hit.title)}")
    if not hits:
        click.echo(_("No matches"), err=True)


def _parse_assignments(entity: str, assignments: tuple[str, ...]) -> dict[str, str]:
    from villagebook.domain.fields import ENTITIES
    from villagebook.services.importer import header_map

    spellings = header_map(ENTITIES[entity])
    values: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(_("Expected FIELD=VALUE, got {text}").format(text=assignment))
        key = name.strip()
        values[spellings.get(key.casefold(), key)] = value
    return values


@cli.command(name="set")
@click.argument("kind", type=click.Choice(["case", "problem"]))
@click.argument("record_id")
@click.argument("assignments", nargs=-1, required=True)
@pass_context
def set_(obj: Context, kind: str, record_id: str, assignments: tuple[str, ...]) -> None:
    """Correct fields of one record: FIELD=VALUE... (same rules as the app)."""
    from villagebook.services.cases import update_case
    from villagebook.services.problems import update_problem

    values = _parse_assignments(kind, assignments)
    update = update_case if kind == "case" else update_problem
    with user_errors(kind), obj.open() as store:
        changed = update(store, record_id, values)
    if changed:
        from villagebook.services.messages import field_labels

        click.echo(_("Changed: {fields}").format(fields=field_labels(kind, changed)))
    else:
        click.echo(_("Nothing changed"))


@cli.command()
@click.argument("kind", type=click.Choice(["case", "problem", "attachment"]))
@click.argument("record_id")
@pass_context
def delete(obj: Context, kind: str, record_id: str) -> None:
    """Delete one record (a tombstone that travels with the next bundle)."""
    from villagebook.cli.evidence import remove_attachment
    from villagebook.services.cases import delete_case
    from villagebook.services.problems import delete_problem

    if kind == "attachment":
        remove_attachment(obj, record_id)
        return
    remove = delete_case if kind == "case" else delete_problem
    with user_errors(kind), obj.open() as store:
        remove(store, record_id)
    click.echo(_("Deleted {id}").format(id=record_id))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the canonical JSON document.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (UTF-8) instead of stdout.")
@pass_context
def dump(obj: Context, as_json: bool, out: Path | None) -> None:
    """Every live record, canonical and sorted (same data, same bytes), in UTF-8."""
    from villagebook.services.dump import dump_json

    with user_errors(), obj.open() as store:
        if as_json or out is not None:
            write_data(dump_json(store) if as_json else _dump_lines(store), out)
            return
        utf8_stdout()
        for key, record_id, title in _dump_rows(store):  # streamed: a big home starts at once
            click.echo(f"{key}\t{record_id}\t{title}")


def _dump_rows(store: Store) -> Iterator[tuple[str, str, str]]:
    from villagebook.services.dump import SECTIONS, iter_records
    from villagebook.services.messages import safe_text

    for key, entity in SECTIONS:
        for record in iter_records(store, entity):
            title = record.get("title") or record.get("name") or record.get("text") or ""
            yield key, str(record["id"]), safe_text(title)


def _dump_lines(store: Store) -> str:
    return "".join(f"{key}\t{record_id}\t{title}\n" for key, record_id, title in _dump_rows(store))
