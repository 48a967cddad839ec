"""`villagebook check --prune`: remove the files this home no longer needs.

A file under HOME/files goes only when every one of these holds:

- no live attachment here points at it (every attachment that did was removed,
  and its tombstone written or merged here);
- every segment that lists it (own bundles sent, bundles received and kept for
  relaying) is acknowledged by every known device of every neighbour (the parent
  unit and the units right under this one), so no neighbour can still need it
  from this node;
- no own change set pointing at it is newer than what every device of every
  neighbour acknowledged (it would still go out in the next bundle);
- it was not written in the last day (a merge or an attach may be moving it
  into place right now, before its records commit).

A file no change set and no segment names (an attach that failed half way, a
merge killed before its records committed) is removed after the same day. A
node with no neighbour keeps every file a change set names. Viewer copies older
than a day go as well (`villagebook.store.viewing`).
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from villagebook.store import files, viewing
from villagebook.store.node import Store
from villagebook.sync import bundle_files, trust
from villagebook.sync.export import PeerState, peer_state

#: A file written this recently is left alone (it may be on its way into place).
GRACE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Pruned:
    """What a prune removed (or, with `dry_run`, would remove)."""

    files: tuple[str, ...]
    bytes: int
    viewer_copies: int


def neighbours(store: Store) -> list[str]:
    """The units this node exchanges bundles with: its parent and the units under it."""
    conn, own = store.conn, store.node.unit_code
    parent = trust.own_parent(conn, own)
    hierarchy = trust.hierarchy(store)
    units = {str(row[0]) for row in conn.execute(
        "SELECT unit_code FROM sync_key WHERE revoked_at IS NULL UNION "
        "SELECT unit_code FROM sync_ack")}
    return sorted(unit for unit in units - {own}
                  if unit == parent or hierarchy.parent(unit) == own
                  or trust.own_parent(conn, unit) == own)


def _held_blobs(home: Path) -> list[tuple[str, Path]]:
    root = files.files_path(home)
    if not root.is_dir():
        return []
    return sorted((path.name, path) for path in root.glob("*/*")
                  if path.parent.name != "tmp" and files.is_sha256(path.name)
                  and path.parent.name == path.name[:2] and path.is_file())


def _named(conn: sqlite3.Connection, own_device: str) -> tuple[set[str], dict[str, int]]:
    """Files some change set names, and per file the newest own set naming it."""
    named: set[str] = set()
    own: dict[str, int] = defaultdict(int)
    for device, sha256, seq in conn.execute(
            "SELECT device_id, json_extract(fields, '$.sha256'), max(seq) FROM change_set "
            "WHERE entity = 'attachment' AND json_extract(fields, '$.sha256') IS NOT NULL "
            "GROUP BY device_id, json_extract(fields, '$.sha256')"):
        named.add(str(sha256))
        if device == own_device:
            own[str(sha256)] = max(own[str(sha256)], int(seq))
    return named, own


def needed(store: Store, sha256: str, named: set[str], own: dict[str, int],
           peers: list[PeerState]) -> bool:
    """Whether this home may still need the file `sha256` (see the module's rules)."""
    conn = store.conn
    if conn.execute("SELECT 1 FROM attachment WHERE sha256 = ? LIMIT 1",
                    (sha256,)).fetchone():
        return True
    listed = conn.execute("SELECT 1 FROM sync_segment_file WHERE sha256 = ? LIMIT 1",
                          (sha256,)).fetchone() is not None
    if not listed and sha256 not in named:
        return False  # nothing names it: a leftover
    if not peers:
        return True
    if any(own.get(sha256, 0) > peer.since for peer in peers):
        return True
    return listed and not all(bundle_files.held_by_receiver(conn, sha256, peer.acks)
                              for peer in peers)


def prune(store: Store, *, dry_run: bool = False, now: float | None = None) -> Pruned:
    """Remove the files nothing needs and old viewer copies; what went (see module)."""
    moment = time.time() if now is None else now
    device = trust.own_key(store).device_id or ""
    named, own = _named(store.conn, device)
    peers = [peer_state(store, unit) for unit in neighbours(store)]
    gone: list[str] = []
    freed = 0
    for sha256, path in _held_blobs(store.home):
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_mtime > moment - GRACE_SECONDS or needed(store, sha256, named, own, peers):
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
        gone.append(sha256)
        freed += info.st_size
    copies = 0 if dry_run else viewing.sweep(store.home, now=moment)
    return Pruned(tuple(gone), freed, copies)
