"""Helpers for the sync tests: three real nodes with exchanged keys, real bundles,
and a forger that signs whatever a hostile test needs with a real key."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node, run_cli
from villagebook.domain.enums import Role
from villagebook.store.changelog import encode
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync import sealed
from villagebook.sync.age_keys import load_identity
from villagebook.sync.export import export_bundle
from villagebook.sync.identity import load_key_file, load_secret_key
from villagebook.sync.minisign import sign
from villagebook.sync.trust import own_key, recipients_of, trust_key

VILLAGE2 = ("320117100202", "石头村", "320117100000")
CASE = {"title": "网格员走村入户收集民意", "lead_person": "王芳", "direction": "implementation"}


@dataclass
class Nodes:
    """A village, its township and their district, each trusting its neighbours."""

    village: Store
    township: Store
    district: Store
    root: Path

    def close(self) -> None:
        for store in (self.village, self.township, self.district):
            store.close()


def introduce(store: Store, other: Store) -> None:
    """`store` trusts `other`'s key for other's unit (the fingerprint call done), with
    the encryption recipient its public key file carries."""
    public, binding = load_key_file(other.home)
    trust_key(store, public, other.node.unit_code, binding)


@contextmanager
def three_nodes(root: Path) -> Iterator[Nodes]:
    """Set up the three nodes in `root` and exchange keys as a new deployment would."""
    nodes = Nodes(make_node(root / "village", Role.VILLAGE, VILLAGE),
                  make_node(root / "township", Role.TOWNSHIP, TOWNSHIP),
                  make_node(root / "district", Role.DISTRICT, DISTRICT), root)
    introduce(nodes.township, nodes.village)
    introduce(nodes.village, nodes.township)
    introduce(nodes.district, nodes.township)
    introduce(nodes.township, nodes.district)
    try:
        yield nodes
    finally:
        nodes.close()


def send(store: Store, folder: Path, to: str | None = None, *, full: bool = False,
         plain: bool = False) -> Path:
    """Export a bundle into `folder` (encrypted to the receiver, unless `plain`); its path.

    Tests that take a bundle's zip apart to tamper with it send it `plain`: the
    receiver refuses a plain bundle only after every other check (docs/SYNC.md).
    """
    return export_bundle(store, to, folder, full=full, plain=plain).path


def opened(reader: Store, bundle: Path) -> Path:
    """The signed zip inside an encrypted bundle, decrypted with `reader`'s identity
    (as `age -d -i HOME/keys/node.age` would), beside it."""
    inner = bundle.with_name(bundle.name + ".zip")
    with bundle.open("rb") as handle:
        if not sealed.is_sealed(handle.read(len(sealed.MAGIC))):
            return bundle  # a plain bundle (from a sender that knew no recipient)
        sealed.unseal(handle, inner, load_identity(reader.home / "keys"), None)
    return inner


def state(store: Store) -> str:
    """A digest of every row of every table: equal digests, unchanged database."""
    digest = hashlib.sha256()
    tables = [row[0] for row in store.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        for row in store.conn.execute(f"SELECT * FROM \"{table}\" ORDER BY 1"):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def change_line(**fields: Any) -> bytes:
    """One payload line (a change set) as a bundle carries it."""
    return (encode(fields) + "\n").encode()


def forge(signer: Store, path: Path, payload: bytes, *, receiver: str = TOWNSHIP[0],
          seq: int = 1, sets: int | None = None, changes: int | None = None,
          overrides: dict[str, Any] | None = None,
          extra: dict[str, bytes] | None = None, plain: bool = False) -> Path:
    """A bundle signed by `signer`'s real key around any payload bytes, encrypted (as
    export would) to the receiver's devices that `signer` knows, unless `plain`."""
    key = own_key(signer)
    lines = [line for line in payload.split(b"\n") if line.strip()]
    if sets is None:
        sets = len(lines)
    if changes is None:
        changes = sum(len(json.loads(line).get("fields", {})) for line in lines)
    manifest: dict[str, Any] = {
        "format": fmt.FORMAT, "version": fmt.VERSION,
        "origin": {"unit": key.unit, "role": key.role, "key_id": key.key_id,
                   "device": signer.node.device_id},
        "receiver": receiver, "seq": seq, "created_at": "2026-11-01T10:00:00+00:00",
        "created_hlc": 1,
        "payload": {"name": fmt.PAYLOAD, "size": len(payload),
                    "sha256": hashlib.sha256(payload).hexdigest(), "sets": sets,
                    "changes": changes},
        "relayed": [], "enrolments": [], "revocations": [], "acks": {},
    }
    manifest.update(overrides or {})
    raw = json.dumps(manifest, ensure_ascii=False).encode()
    signature = sign(load_secret_key(signer.home), raw,
                     fmt.trusted_comment(key.unit, receiver, seq))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(fmt.MANIFEST, raw)
        zf.writestr(fmt.SIGNATURE, signature)
        zf.writestr(fmt.PAYLOAD, payload)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path if plain else seal_for(signer, path, receiver)


def seal_for(sender: Store, path: Path, receiver: str) -> Path:
    """Encrypt a bundle file in place, as export does, to the devices of `receiver`
    whose recipients `sender` knows (left plain if it knows none)."""
    recipients = [r for _, r in recipients_of(sender, receiver) if r]
    if recipients:
        inner = path.with_name(path.name + ".zip")
        os.replace(path, inner)
        sealed.seal(inner, path, recipients)
        inner.unlink()
    return path


def refused(township: Store, bundle: Path, *reason: str) -> None:
    """Merging `bundle` on the command line fails with `reason` and changes nothing."""
    before = state(township)
    result = run_cli(township.home, "merge", str(bundle))
    assert result.code == 1, result
    assert "Traceback" not in result.err
    line = result.err.strip().splitlines()[0]
    assert line.startswith(f"Rejected {bundle.name}: "), line
    assert any(text in line for text in reason), line
    assert state(township) == before


def full_at_the_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stick that fills up when a bundle's manifest is written (ENOSPC)."""
    def writestr(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
