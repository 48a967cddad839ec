"""Evidence files: attach, list, remove, extract, open and check.

An attachment is an ordinary record (field-level changes, a tombstone to remove
it) that points at bytes in the home's file store by their SHA-256. Only the unit
that owns a case, a ledger problem or a follow-up attaches files to it. Several
files are attached together or not at all: each is checked, reduced and written
to a flushed temporary file first; only when all of them pass are they moved
under their names and recorded, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from villagebook.domain.enums import AttachmentTarget
from villagebook.domain.fields import ATTACHMENT
from villagebook.services import media, records
from villagebook.services.errors import RecordNotFound, Refused
from villagebook.store import files, viewing
from villagebook.store.changelog import chunks
from villagebook.store.node import Store, system_now

#: The largest file stored, after a photo's reduction (a chat app carries it).
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Prepared:
    """One file checked, reduced and flushed to a temporary file, not yet recorded."""

    pending: files.PendingBlob
    name: str
    media_type: str
    taken: str | None


def owner_of(store: Store, target: str, record_id: str) -> str:
    """The unit that owns the record a file would hang on; RecordNotFound if none."""
    kind = AttachmentTarget(target).value
    record = records.require_record(store, kind, record_id)
    if kind == AttachmentTarget.FOLLOWUP.value:
        record = records.require_record(store, "problem", record["problem_id"])
    return str(record["unit_code"])


def _check_owner(store: Store, target: str, record_id: str) -> str:
    owner = owner_of(store, target, record_id)
    if owner != store.node.unit_code:
        raise Refused("This record belongs to unit {unit}; only that unit may attach files "
                      "to it or remove them", unit=owner)
    return owner


def _check_source(path: Path) -> None:
    name = path.name or str(path)
    if not path.exists():
        raise Refused("{name}: no such file", name=name)
    if path.is_dir():
        raise Refused("{name} is a folder, not a file", name=name)
    if not os.access(path, os.R_OK):
        raise Refused("{name} cannot be read (no permission)", name=name)


def _too_large(name: str) -> Refused:
    return Refused("{name} is larger than {limit} MB, the largest file an attachment may "
                   "be", name=name, limit=MAX_FILE_BYTES // (1024 * 1024))


def prepare(store: Store, path: Path, *, keep_original: bool = False,
            keep_location: bool = False) -> Prepared:
    """Check one file and write what will be stored to a temporary file (Refused
    with a reason naming the file otherwise)."""
    _check_source(path)
    name = path.name
    try:
        media_type = media.sniff(path)
        taken = None
        data: bytes | None = None
        if media.is_photo(media_type):
            photo = media.prepare_photo(path, name, keep_original=keep_original,
                                        keep_location=keep_location)
            data, media_type, taken = photo.data, photo.media_type, photo.taken
        if data is not None:
            pending = files.write_pending(store.home, iter((data,)), MAX_FILE_BYTES)
        else:
            with path.open("rb") as source:
                pending = files.write_pending(store.home, files.read_chunks(source),
                                              MAX_FILE_BYTES)
    except files.FileTooLarge:
        raise _too_large(name) from None
    except PermissionError:
        raise Refused("{name} cannot be read (no permission)", name=name) from None
    except IsADirectoryError:
        raise Refused("{name} is a folder, not a file", name=name) from None
    return Prepared(pending, name, media_type, taken)


def attach(store: Store, target: str, record_id: str, paths: Sequence[Path], *,
           caption: str = "", keep_original: bool = False,
           keep_location: bool = False) -> list[str]:
    """Attach files to a record of this node's unit, all or none; returns their ids."""
    if not paths:
        raise Refused("Name at least one file to attach")
    owner = _check_owner(store, target, record_id)
    prepared: list[Prepared] = []
    try:
        for path in paths:
            prepared.append(prepare(store, path, keep_original=keep_original,
                                    keep_location=keep_location))
        return _record(store, target, record_id, owner, caption, prepared)
    finally:
        for item in prepared:
            files.discard(item.pending)  # a no-op for those moved into place


def _record(store: Store, target: str, record_id: str, owner: str, caption: str,
            prepared: Sequence[Prepared]) -> list[str]:
    node = store.node
    attached_at = system_now().astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    ids: list[str] = []
    with store.transaction():
        for item in prepared:
            data = {"unit_code": owner, "record_kind": target, "record_id": record_id,
                    "caption": caption, "kind": media.kind_of(item.media_type).value,
                    "name": item.name, "size": item.pending.size,
                    "media_type": item.media_type, "sha256": item.pending.sha256,
                    "taken_date": item.taken,
                    "attached_by": f"{node.unit_code}/{node.device_id}",
                    "attached_at": attached_at}
            ids.append(records.create_record(store, "attachment", data, owner=owner))
        # The files go into place before the records commit: a record never points at
        # a file the home does not hold (a file without a record is only wasted space).
        for item in prepared:
            files.commit(store.home, item.pending)
    return ids


def get_attachment(store: Store, attachment_id: str) -> dict[str, Any]:
    """One live attachment; RecordNotFound otherwise."""
    record = records.get_record(store, "attachment", attachment_id.strip().lower())
    if record is None:
        raise RecordNotFound("attachment", attachment_id)
    return record


def attachments_of(store: Store, target: str, record_id: str) -> list[dict[str, Any]]:
    """The live attachments of a record, oldest first; a problem's include those of
    its follow-ups."""
    ids = [record_id]
    if target == AttachmentTarget.PROBLEM.value:
        ids += [row[0] for row in store.conn.execute(
            "SELECT id FROM followup WHERE problem_id = ?", (record_id,))]
    rows = records.select_dicts(
        store, f"SELECT * FROM attachment WHERE record_id IN ({','.join('?' * len(ids))}) "
        "ORDER BY attached_at, id", ids)
    return [records.row_to_record(ATTACHMENT, row) for row in rows]


def count_and_captions(store: Store, case_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Per case: how many attachments it has and their captions (for reports)."""
    found: dict[str, list[str]] = {}
    for part in chunks(case_ids):
        for case_id, caption, name in store.conn.execute(
                "SELECT record_id, caption, name FROM attachment WHERE record_kind = 'case' "
                f"AND record_id IN ({','.join('?' * len(part))}) ORDER BY attached_at, id",
                tuple(part)):
            found.setdefault(case_id, []).append(caption or name or "")
    return {case_id: (len(captions), "；".join(captions)) for case_id, captions in found.items()}


def remove(store: Store, attachment_id: str) -> None:
    """Remove an attachment (a tombstone that travels). Its bytes stay in the store:
    another attachment may hold the same file."""
    record = get_attachment(store, attachment_id)
    if record["unit_code"] != store.node.unit_code:
        raise Refused("This record belongs to unit {unit}; only that unit may attach files "
                      "to it or remove them", unit=record["unit_code"])
    records.delete_record(store, "attachment", record["id"], owner=record["unit_code"])


def _held(store: Store, record: dict[str, Any]) -> None:
    if files.blob_state(store.home, record["sha256"]) != "ok":
        raise Refused("The file of attachment {id} is not in this home (or is damaged); "
                      "it may still be on its way in a bundle", id=record["id"])


def extract(store: Store, attachment_id: str, out: Path) -> Path:
    """Copy an attachment's file to `out` (a file, or a folder to put it in under a
    safe name); returns the path written. Never overwrites a file."""
    record = get_attachment(store, attachment_id)
    _held(store, record)
    target = out / safe_file_name(record) if out.is_dir() else out
    if target.exists():
        raise Refused("{path} already exists; choose another name", path=str(target))
    if not files.copy_out(store.home, record["sha256"], target):
        raise Refused("The file of attachment {id} is not in this home (or is damaged); "
                      "it may still be on its way in a bundle", id=record["id"])
    return target


def safe_file_name(record: dict[str, Any]) -> str:
    """A file name made from the record's id and type: never the stored name, which is
    a peer's data and could hold `..`, slashes or control characters."""
    extension = media.EXTENSIONS.get(record.get("media_type") or "", ".bin")
    return f"attachment-{record['id']}{extension}"


def viewer_copy(store: Store, attachment_id: str) -> Path:
    """A read-only copy of an attachment's file for the system viewer (allow-listed
    types only: the viewer never sees a program or an unknown file)."""
    record = get_attachment(store, attachment_id)
    if record.get("media_type") not in media.VIEWABLE:
        raise Refused("Files of type {type} are not opened here; extract it with: "
                      "villagebook extract {id} --out FILE",
                      type=record.get("media_type") or "?", id=record["id"])
    _held(store, record)
    target = viewing.new_folder(store.home) / safe_file_name(record)
    files.copy_out(store.home, record["sha256"], target)
    target.chmod(0o444)
    return target


def preview(store: Store, attachment_id: str, columns: int,
            rows: int) -> list[list[media.Cell]]:
    """A photo attachment drawn in `columns` x `rows` terminal cells (half blocks);
    refused for any other type, and for a file this home does not hold whole."""
    record = get_attachment(store, attachment_id)
    if not media.is_photo(record.get("media_type") or ""):
        raise Refused("Only photos are drawn here; press Enter to open {name} with the "
                      "system viewer", name=record.get("caption") or record["name"])
    _held(store, record)
    return media.preview_cells(files.blob_path(store.home, record["sha256"]),
                               safe_file_name(record), columns, rows)


def open_in_viewer(store: Store, attachment_id: str) -> Path:
    """Open an attachment with the system's viewer, from a read-only copy; returns the
    copy's path. The viewer is started, never waited for; nothing is executed."""
    copy = viewer_copy(store, attachment_id)
    if sys.platform.startswith("win"):
        os.startfile(copy)  # type: ignore[attr-defined,unused-ignore]  # Windows only
        return copy
    command = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        subprocess.Popen([command, str(copy)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except FileNotFoundError:
        raise Refused("No system viewer ({command}) is installed; the file is at {path}",
                      command=command, path=str(copy)) from None
    return copy


@dataclass(frozen=True)
class CheckedFile:
    """An attachment whose file is missing or does not match its hash."""

    attachment_id: str
    sha256: str
    state: str


def check(store: Store) -> tuple[int, list[CheckedFile]]:
    """Every live attachment's file: present and matching its hash? Returns how many
    were checked and the bad ones."""
    bad: list[CheckedFile] = []
    checked = 0
    states: dict[str, str] = {}
    for attachment_id, sha256 in _all_hashes(store):
        checked += 1
        state = states.get(sha256) or states.setdefault(
            sha256, files.blob_state(store.home, sha256) if files.is_sha256(sha256)
            else "missing")
        if state != "ok":
            bad.append(CheckedFile(attachment_id, sha256, state))
    return checked, bad


def _all_hashes(store: Store) -> Iterator[tuple[str, str]]:
    yield from store.conn.execute("SELECT id, sha256 FROM attachment ORDER BY id")


def kind_label(code: object) -> str:
    """The translated name of an attachment's kind; an unknown code (a newer peer's)
    shown as it is."""
    from villagebook.domain.enums import AttachmentKind
    from villagebook.i18n import _

    try:
        return _(AttachmentKind(str(code)).label)
    except ValueError:
        return str(code)


def evidence_lines(store: Store, target: str, record_id: str) -> list[str]:
    """One line per attachment of a record, for the review and scoring screens:
    caption, kind, size, and whether its file has reached this home yet."""
    from villagebook.i18n import _
    from villagebook.services.messages import human_size, safe_text

    lines = []
    for item in attachments_of(store, target, record_id):
        line = (_("{caption} ({kind}, {size})") if files.has_blob(store.home,
                                                                  item["sha256"] or "")
                else _("{caption} ({kind}, {size}; the file has not reached this home yet)"))
        lines.append(line.format(caption=safe_text(item["caption"] or item["name"] or ""),
                                 kind=kind_label(item["kind"]),
                                 size=human_size(item["size"])))
    return lines
