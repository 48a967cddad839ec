"""A node's signing identity: its key pair, made when the node is set up."""

from __future__ import annotations

from pathlib import Path

from villagebook.domain.enums import Role, UnitKind
from villagebook.services.setup import init_node
from villagebook.store.home import keys_path
from villagebook.store.node import NodeInfo, Store
from villagebook.sync.minisign import PublicKey, SecretKey

SECRET_KEY_NAME = "node.key"
PUBLIC_KEY_NAME = "node.pub"


def secret_key_path(home: Path) -> Path:
    """Where this node's secret key lives (readable by its owner only)."""
    return keys_path(home) / SECRET_KEY_NAME


def public_key_path(home: Path) -> Path:
    """Where this node's public key lives, in minisign's format."""
    return keys_path(home) / PUBLIC_KEY_NAME


def load_secret_key(home: Path) -> SecretKey:
    """This node's secret key."""
    return SecretKey.load(secret_key_path(home))


def load_public_key(home: Path) -> PublicKey:
    """This node's public key."""
    return PublicKey.from_text(public_key_path(home).read_text(encoding="utf-8"))


def set_up_node(
    store: Store,
    role: Role,
    unit_code: str,
    name: str,
    parent_code: str | None = None,
    *,
    kind: UnitKind | None = None,
) -> tuple[NodeInfo, str]:
    """Set the node up and give it a fresh key pair; returns it and the key's fingerprint.

    The key is written inside the node's transaction: a crash before the commit
    leaves key files but no node, so key files found on a home with no node are
    leftovers of a failed set-up and are replaced.
    """
    secret_path, public_path = secret_key_path(store.home), public_key_path(store.home)
    if not store.initialised:
        for leftover in (secret_path, public_path):
            leftover.unlink(missing_ok=True)
    with store.transaction():
        node = init_node(store, role, unit_code, name, parent_code, kind=kind)
        secret = SecretKey.generate()
        secret_path.parent.mkdir(parents=True, exist_ok=True)
        secret.save(secret_path)
        public = secret.public_key()
        public_path.write_text(public.to_text(f"villagebook unit {unit_code}"),
                               encoding="utf-8")
    return node, public.fingerprint()
