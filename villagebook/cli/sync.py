"""Sync commands: export, verify, merge, keys, conflicts, status (see CLI.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from villagebook.cli.base import Context, cli, pass_context, user_errors
from villagebook.cli.output import echo_data, write_data
from villagebook.i18n import _

if TYPE_CHECKING:
    from villagebook.store.node import Store
    from villagebook.sync.merge import MergeResult


def _bundle_paths(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a folder (a USB stick) stands for every bundle in it.

    A `.vbundle` entry of a folder that is no regular file (a pipe, a device) is
    kept, to be refused by name when it is opened; sub-folders are searched.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.vbundle") if not p.is_dir()))
        else:
            found.append(path)
    return found


@cli.command()
@click.option("--to", "to", default=None, help="Receiver's unit code (default: the parent).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder (e.g. a USB stick) or .vbundle file (default: HOME/outbox).")
@click.option("--full", is_flag=True, help="Everything, not only what the receiver lacks.")
@click.option("--plain", is_flag=True,
              help="Do not encrypt (only for an office on a version without encryption).")
@click.option("--max-size", "max_size", default=None, metavar="SIZE",
              help="Write several numbered bundles of at most SIZE each (e.g. 200M, 1G).")
@pass_context
def export(obj: Context, to: str | None, out: Path | None, full: bool, plain: bool,
           max_size: str | None) -> None:
    """Write a signed bundle for a receiver, encrypted to its devices; print its path
    (with --max-size, one path per part, each part mergeable alone in any order)."""
    from villagebook.sync.export import export_bundle, export_parts
    from villagebook.sync.split import parse_size

    with user_errors():
        limit = None if max_size is None else parse_size(max_size)
        with obj.open() as store:
            if limit is None:
                results = [export_bundle(store, to, out, full=full, plain=plain)]
            else:
                results = export_parts(store, to, out, full=full, plain=plain,
                                       max_size=limit)
    for result in results:
        click.echo(str(result.path))


def _describe(result: MergeResult) -> str:
    from villagebook.services.messages import describe, safe_text

    name = safe_text(result.path.name)
    if result.status == "rejected" and result.error is not None:
        return _("Rejected {file}: {reason}").format(file=name, reason=describe(result.error))
    if result.status == "already":
        return _("Already merged: {file}").format(file=name)
    pattern = (_("Verified {file}: {new} new, {updated} updated, {unchanged} unchanged, "
                 "{conflicts} conflicts") if result.status == "verified" else
               _("Merged {file}: {new} new, {updated} updated, {unchanged} unchanged, "
                 "{conflicts} conflicts"))
    return pattern.format(file=name, new=result.new, updated=result.updated,
                          unchanged=result.unchanged, conflicts=result.conflicts)


def _describe_refusals(result: MergeResult) -> list[str]:
    from villagebook.services.messages import describe, safe_text

    return [_("Refused segment {segment} from unit {origin} in {file}: {reason}").format(
        segment=r.segment, origin=r.origin or "?", file=safe_text(result.path.name),
        reason=describe(r.error)) for r in result.refused_segments]


def _as_json(result: MergeResult) -> dict[str, Any]:
    from villagebook.services.clock import when
    from villagebook.services.messages import describe

    return {"file": str(result.path), "status": result.status, "origin": result.origin,
            "receiver": result.receiver, "seq": result.seq, "segments": result.segments,
            "origins": result.origins, "new": result.new, "updated": result.updated,
            "unchanged": result.unchanged, "conflicts": result.conflicts,
            "reason": result.reason, "encrypted": result.encrypted,
            "message": describe(result.error) if result.error else "",
            "held_aside": [{"origin": origin, "sets": count, "newest": when(newest)}
                           for origin, (count, newest) in sorted(result.held_aside.items())],
            "released": result.released,
            "refused_segments": [{"segment": r.segment, "origin": r.origin, "reason": r.reason,
                                  "message": describe(r.error)}
                                 for r in result.refused_segments]}


def _clock_lines(result: MergeResult, names: dict[str, str]) -> list[str]:
    """What the merge held aside (dated ahead of this laptop's clock) or released."""
    from villagebook.services.clock import when
    from villagebook.services.messages import safe_text
    from villagebook.sync.quarantine import held_sentence

    lines = [held_sentence(count, safe_text(names.get(origin) or origin), when(newest))
             for origin, (count, newest) in sorted(result.held_aside.items())]
    if result.released:
        lines.append(_("{count} changes held aside earlier were merged: their time has come")
                     .format(count=result.released))
    return lines


def _unit_names(store: Store) -> dict[str, str]:
    return {code: name for code, name in store.conn.execute("SELECT code, name FROM unit")}


def _run_merge(obj: Context, bundles: tuple[Path, ...], as_json: bool, dry_run: bool) -> None:
    from villagebook.cli.progress import progress_line
    from villagebook.services.messages import safe_text
    from villagebook.sync.merge import merge_file
    from villagebook.sync.status import gap_sentences, streams

    results = []
    paths = _bundle_paths(bundles)
    with user_errors(), obj.open() as store, \
            progress_line(_("Bundles"), obj.quiet or len(paths) < 2, len(paths)) as progress:
        for path in paths:
            result = merge_file(store, path, dry_run=dry_run)
            results.append(result)
            progress.advance()
            if not as_json:  # as each bundle is done: its summary is never lost
                click.echo(_describe(result), err=result.status == "rejected")
                for line in [*_describe_refusals(result),
                             *_clock_lines(result, _unit_names(store))]:
                    click.echo(line, err=True)
        held = streams(store)
        names = _unit_names(store)
    gaps = [safe_text(line) for line in gap_sentences(held, names)]
    if as_json:
        echo_data(json.dumps({"bundles": [_as_json(r) for r in results], "gaps": gaps},
                              ensure_ascii=False))
    else:
        for line in gaps:
            click.echo(line, err=True)
    if any(r.refused_anything for r in results):
        raise SystemExit(1)


@cli.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_context
def verify(obj: Context, bundles: tuple[Path, ...], as_json: bool) -> None:
    """Check bundles (signatures, trust, integrity, authorisation); change nothing."""
    _run_merge(obj, bundles, as_json, dry_run=True)


@cli.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_context
def merge(obj: Context, bundles: tuple[Path, ...], as_json: bool) -> None:
    """Verify, then merge each bundle (or folder of bundles) in its own transaction."""
    _run_merge(obj, bundles, as_json, dry_run=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Last heard from each origin, bundles that have not arrived, changes held aside."""
    from villagebook.services.clock import when
    from villagebook.services.messages import safe_text
    from villagebook.sync.quarantine import groups, held_sentence
    from villagebook.sync.status import gap_sentences, streams

    with user_errors(), obj.open() as store:
        held = streams(store)
        aside = groups(store.conn)
        names = {code: name for code, name in store.conn.execute("SELECT code, name FROM unit")}
    if as_json:
        echo_data(json.dumps([{
            "origin": s.origin, "key_id": s.key_id, "receiver": s.receiver,
            "highest": s.highest, "held": s.held, "last_heard": s.last_heard,
            "missing": [list(pair) for pair in s.missing]} for s in held], ensure_ascii=False))
        return
    for s in held:
        click.echo(_("{origin} ({unit}) to {receiver}: up to bundle {highest}, last heard "
                     "{when}").format(origin=safe_text(names.get(s.origin, s.origin)),
                                      unit=s.origin, receiver=s.receiver, highest=s.highest,
                                      when=s.last_heard))
    for line in gap_sentences(held, names):
        click.echo(safe_text(line))
    for group in aside:
        click.echo(held_sentence(group.sets, safe_text(names.get(group.origin) or group.origin),
                                 when(group.newest_hlc)))
    if not held:
        click.echo(_("No bundles merged yet"))


@cli.group()
def keys() -> None:
    """This node's key and the keys it trusts."""


@keys.command(name="show")
@click.option("--public", "public_only", is_flag=True,
              help="Only the public key file (to save and hand over).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --public: write the key file here (UTF-8, whatever the shell).")
@pass_context
def keys_show(obj: Context, public_only: bool, out: Path | None) -> None:
    """This node's public key (minisign format) and its fingerprint."""
    from villagebook.sync.age_keys import Binding, key_file_text
    from villagebook.sync.trust import own_key

    with user_errors(), obj.open() as store:
        key = own_key(store)
        unit = store.node.unit_code
    binding = Binding.parse(key.recipient)
    text = key_file_text(key.public_key, f"villagebook unit {unit}", binding)
    if public_only or out is not None:
        with user_errors():
            write_data(text, out)
        if out is not None:
            click.echo(_("Wrote the public key to {path}").format(path=out), err=True)
        return
    click.echo(_("Key id: {key}").format(key=key.key_id))
    click.echo(_("Fingerprint (read it out on the phone): {fingerprint}").format(
        fingerprint=key.public_key.fingerprint()))
    if binding is not None:
        click.echo(_("Encryption recipient (age): {recipient}").format(
            recipient=binding.recipient))
    click.echo(text, nl=False)


@keys.command(name="trust")
@click.argument("pubkey_file", type=click.Path(path_type=Path))
@click.option("--unit", "unit", required=True, help="The unit this key speaks for.")
@pass_context
def keys_trust(obj: Context, pubkey_file: Path, unit: str) -> None:
    """Trust a public key for a unit (after comparing fingerprints)."""
    from villagebook.sync.trust import read_key_file, trust_key

    with user_errors(), obj.open() as store:
        public, binding = read_key_file(pubkey_file)
        key = trust_key(store, public, unit.strip(), binding)
    click.echo(_("Trusted key {key} for unit {unit}; fingerprint {fingerprint}").format(
        key=key.key_id, unit=key.unit, fingerprint=key.public_key.fingerprint()))


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def keys_list(obj: Context, as_json: bool) -> None:
    """The trust store: every key, its unit, how it came to be trusted."""
    from villagebook.sync.trust import list_keys

    with user_errors(), obj.open() as store:
        found = list_keys(store)
    rows = [{"key_id": k.key_id, "unit": k.unit, "role": k.role, "parent": k.parent,
             "fingerprint": k.public_key.fingerprint(), "own": k.own,
             "enrolled_by": k.enrolled_by, "handover_by": k.handover_by,
             "trusted_at": k.trusted_at, "revoked_at": k.revoked_at,
             "recipient": _recipient(k.recipient),
             "can_encrypt": bool(k.recipient) and not k.revoked_at} for k in found]
    if as_json:
        echo_data(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        how = (_("this node") if row["own"] else
               _("revoked") if row["revoked_at"] else
               _("handed over by {key}").format(key=row["handover_by"]) if row["handover_by"]
               else _("enrolled by {key}").format(key=row["enrolled_by"]) if row["enrolled_by"]
               else _("trusted here"))
        sealing = (_("can encrypt to it") if row["can_encrypt"] else
                   _("no encryption key known"))
        click.echo(f"{row['key_id']}\t{row['unit']}\t{row['fingerprint']}\t{how}\t{sealing}")


def _recipient(text: str | None) -> str | None:
    from villagebook.sync.age_keys import Binding

    binding = Binding.parse(text)
    return binding.recipient if binding else None


@keys.command(name="require-encryption")
@click.argument("policy", type=click.Choice(["auto", "always", "never"]))
@pass_context
def keys_require_encryption(obj: Context, policy: str) -> None:
    """Whether plain bundles are refused: auto (once every trusted key has an
    encryption key), always, or never."""
    from villagebook.sync.opening import set_policy

    with user_errors(), obj.open() as store:
        set_policy(store, policy)
    click.echo(_("Plain bundles: policy {policy}").format(policy=policy))


@keys.command(name="revoke")
@click.argument("key_id")
@pass_context
def keys_revoke(obj: Context, key_id: str) -> None:
    """Revoke a key: its later bundles are refused; what it signed before stays."""
    from villagebook.sync.trust import revoke_key

    with user_errors(), obj.open() as store:
        key = revoke_key(store, key_id)
    click.echo(_("Revoked key {key} of unit {unit}").format(key=key.key_id, unit=key.unit))


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def conflicts(ctx: click.Context, as_json: bool) -> None:
    """Concurrent edits waiting for a person."""
    if ctx.invoked_subcommand is not None:
        return
    from villagebook.services.messages import safe_text
    from villagebook.sync.conflicts import list_conflicts

    obj: Context = ctx.find_object(Context)  # type: ignore[assignment]
    with user_errors(), obj.open() as store:
        found = list_conflicts(store)
    if as_json:
        echo_data(json.dumps([{
            "id": c.conflict_id, "kind": c.entity, "record_id": c.record_id, "field": c.field,
            "owner": c.owner, "values": [
                {"value_id": v.change_id, "value": v.value, "written_at": v.written_at,
                 "device": v.device_id, "writer_unit": v.writer_unit}
                for v in c.candidates]} for c in found], ensure_ascii=False))
        return
    for c in found:
        click.echo(f"{c.conflict_id}\t{c.entity}\t{c.record_id}\t{c.field}")
        for v in c.candidates:
            click.echo(f"  {v.change_id}\t{v.written_at}\t{v.writer_unit or v.device_id}\t"
                       f"{safe_text(json.dumps(v.value, ensure_ascii=False))}")
    if not found:
        click.echo(_("No conflicts"))


@conflicts.command(name="resolve")
@click.argument("conflict_id")
@click.option("--keep", "keep", required=True, help="The change id of the value to keep.")
@pass_context
def conflicts_resolve(obj: Context, conflict_id: str, keep: str) -> None:
    """Settle a conflict: keep one value (a new change that travels)."""
    from villagebook.sync.conflicts import resolve

    with user_errors(), obj.open() as store:
        view = resolve(store, conflict_id, keep)
    click.echo(_("Kept {value} for {field} of {id}").format(value=keep, field=view.field,
                                                           id=view.record_id))
