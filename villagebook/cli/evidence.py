"""Commands of evidence files: attach, attachments, extract, detach and check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from villagebook.cli.base import Context, cli, fail, pass_context, user_errors
from villagebook.cli.output import echo_data
from villagebook.i18n import _

#: The `attachments --json` and `dump --json` keys of one attachment, in order.
_LISTED = ("id", "record_kind", "record_id", "caption", "kind", "name", "size",
           "media_type", "sha256", "taken_date", "attached_by", "attached_at")


@cli.command()
@click.argument("target", type=click.Choice(["case", "problem", "followup"]))
@click.argument("record_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="FILE...")
@click.option("--caption", default="", help="What the files show (说明).")
@click.option("--keep-original", is_flag=True,
              help="Store photos as they are, not reduced (location is still removed).")
@click.option("--keep-location", is_flag=True,
              help="Keep the photos' location (EXIF GPS); it is removed by default.")
@pass_context
def attach(obj: Context, target: str, record_id: str, paths: tuple[Path, ...], caption: str,
           keep_original: bool, keep_location: bool) -> None:
    """Attach photos or documents to a case, a ledger problem or a follow-up (all or none)."""
    from villagebook.services import attachments
    from villagebook.services.messages import human_size, safe_text

    with user_errors("attachment"), obj.open() as store:
        ids = attachments.attach(store, target, record_id, list(paths), caption=caption,
                                 keep_original=keep_original, keep_location=keep_location)
        for attachment_id in ids:
            record = attachments.get_attachment(store, attachment_id)
            click.echo(_("Attached {name} ({size}) as {id}").format(
                name=safe_text(record["name"]), size=human_size(record["size"]),
                id=attachment_id))


@cli.command(name="attachments")
@click.argument("target", type=click.Choice(["case", "problem", "followup"]))
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def attachments_(obj: Context, target: str, record_id: str, as_json: bool) -> None:
    """The files attached to a record (a problem's include its follow-ups')."""
    from villagebook.services import attachments
    from villagebook.services.attachments import owner_of

    with user_errors(target), obj.open() as store:
        owner_of(store, target, record_id)  # says so if there is no such record
        found = attachments.attachments_of(store, target, record_id.strip().lower())
    if as_json:
        echo_data(json.dumps([{key: item[key] for key in _LISTED} for item in found],
                              ensure_ascii=False, sort_keys=True, indent=1))
        return
    for item in found:
        click.echo(_line(item))
    if not found:
        click.echo(_("No attachments"), err=True)


def _line(item: dict[str, Any]) -> str:
    from villagebook.services.attachments import kind_label
    from villagebook.services.messages import human_size, safe_text

    # Every value may come from a peer: shown literally, a missing one as empty.
    return "\t".join((item["id"], safe_text(kind_label(item["kind"])),
                      human_size(item["size"]), safe_text(item["caption"] or ""),
                      safe_text(item["name"] or ""), safe_text(item["attached_by"] or ""),
                      safe_text(item["attached_at"] or "")))


@cli.command()
@click.argument("attachment_id")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="The file to write (or a folder to write it into).")
@pass_context
def extract(obj: Context, attachment_id: str, out: Path) -> None:
    """Copy an attachment's file out of the home (checked against its hash)."""
    from villagebook.services import attachments

    with user_errors("attachment"), obj.open() as store:
        written = attachments.extract(store, attachment_id, out)
    click.echo(str(written))


@cli.command()
@click.argument("attachment_id")
@pass_context
def detach(obj: Context, attachment_id: str) -> None:
    """Remove an attachment (a tombstone that travels; same as delete attachment ID)."""
    remove_attachment(obj, attachment_id)


def remove_attachment(obj: Context, attachment_id: str) -> None:
    """`detach ID` and `delete attachment ID`: one tombstone, one line."""
    from villagebook.services import attachments

    with user_errors("attachment"), obj.open() as store:
        attachments.remove(store, attachment_id)
    click.echo(_("Deleted {id}").format(id=attachment_id))


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help='Print {"checked": N, "bad": [...]} as JSON.')
@click.option("--prune", is_flag=True,
              help="Also remove files nothing needs any more and viewer copies over a day old.")
@pass_context
def check(obj: Context, as_json: bool, prune: bool) -> None:
    """Check that every attachment's file is here and matches its hash (exit 1 if not);
    with --prune, first remove the files no attachment or neighbour still needs."""
    from villagebook.services import attachments
    from villagebook.sync.prune import prune as prune_files

    with user_errors(), obj.open() as store:
        pruned = prune_files(store) if prune else None
        checked, bad = attachments.check(store)
    if as_json:
        shown: dict[str, Any] = {"checked": checked, "bad": [
            {"id": b.attachment_id, "sha256": b.sha256, "state": b.state} for b in bad]}
        if pruned is not None:
            shown["pruned"] = {"files": list(pruned.files), "bytes": pruned.bytes,
                               "viewer_copies": pruned.viewer_copies}
        echo_data(json.dumps(shown, sort_keys=True))
    else:
        if pruned is not None:
            click.echo(_("Removed {count} files no longer needed ({size} KB) and {copies} "
                         "viewer copies").format(count=len(pruned.files),
                                                 size=-(-pruned.bytes // 1024),
                                                 copies=pruned.viewer_copies))
        _report_bad(bad)
    if bad:
        fail(_("{bad} of {count} attachments failed the check").format(
            bad=len(bad), count=checked))
    if not as_json:
        click.echo(_("Checked {count} attachments: every file is here and intact").format(
            count=checked))


def _report_bad(bad: list[Any]) -> None:
    for item in bad:
        message = (_("Attachment {id}: its file {sha256} is missing") if item.state ==
                   "missing" else _("Attachment {id}: its file {sha256} is damaged "
                                    "(its bytes do not match their hash)"))
        click.echo(message.format(id=item.attachment_id, sha256=item.sha256), err=True)
