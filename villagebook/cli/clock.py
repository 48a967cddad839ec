"""`villagebook clock`: this laptop's clock against what the node has seen (read-only)."""

from __future__ import annotations

import json

import click

from villagebook.cli.base import Context, cli, pass_context, user_errors
from villagebook.cli.output import echo_data
from villagebook.i18n import _


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--redate", is_flag=True,
              help="Re-date this device's changes dated ahead of this laptop's clock now, "
                   "even though other nodes' times lie ahead too (they were wrong as well).")
@pass_context
def clock(obj: Context, as_json: bool, redate: bool) -> None:
    """This laptop's clock, the node's clock, the newest time heard from others.

    Changes nothing, except with --redate.
    """
    from villagebook.services.clock import wall_when, warning, when
    from villagebook.services.messages import safe_text
    from villagebook.sync.quarantine import groups, held_sentence

    with user_errors(), obj.open() as store:
        if redate:
            with store.transaction():
                store.settle_clock(force=True)  # told on stderr after the command
        reading = store.clock_reading()
        held = groups(store.conn)
        names = {code: name for code, name in store.conn.execute("SELECT code, name FROM unit")}
    verdict = reading.verdict.value
    if as_json:
        echo_data(json.dumps({
            "wall": wall_when(reading.wall_ms), "node": when(reading.node_hlc),
            "seen": when(reading.seen_hlc) if reading.seen_hlc else None,
            "verdict": verdict,
            "held_aside": [{"origin": g.origin, "sets": g.sets, "newest": when(g.newest_hlc)}
                           for g in held]}, ensure_ascii=False))
        return
    click.echo(_("This laptop's clock: {when}").format(when=wall_when(reading.wall_ms)))
    click.echo(_("This node's clock: {when}").format(when=when(reading.node_hlc)))
    click.echo(_("Newest time heard from other nodes: {when}").format(
        when=when(reading.seen_hlc) if reading.seen_hlc else _("none yet")))
    click.echo(warning(reading) or _("The clock looks right"))
    for group in held:
        click.echo(held_sentence(group.sets, safe_text(names.get(group.origin) or group.origin),
                             when(group.newest_hlc)))

