"""A node's identity: its signing key pair and its encryption identity (age), made
when the node is set up; the encryption identity is added to older homes on their
first start (`ensure_encryption_identity`)."""

from __future__ import annotations

import os
from pathlib import Path

from villagebook.domain.enums import Role, UnitKind
from villagebook.services.setup import init_node
from villagebook.store.home import keys_path
from villagebook.store.node import NodeInfo, Store
from villagebook.sync import age_keys
from villagebook.sync.age_keys import Binding
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
    return load_key_file(home)[0]


def load_key_file(home: Path) -> tuple[PublicKey, Binding | None]:
    """This node's public key and the recipient bound to it (None in a home made
    before encryption, until its first start adds one)."""
    text = public_key_path(home).read_text(encoding="utf-8")
    return PublicKey.from_text(age_keys.key_lines(text)), age_keys.binding_in(text)


def _comment(unit_code: str) -> str:
    return f"villagebook unit {unit_code}"


def ensure_encryption_identity(home: Path, unit_code: str) -> Binding:
    """The key step for homes made before encryption: give the device an age identity
    and write its signed recipient into the public key file; idempotent.

    The identity file is written before the public key file names it, so a crash in
    between leaves an identity that the next start binds (never a recipient without
    its identity).
    """
    keys_dir = keys_path(home)
    public, binding = load_key_file(home)
    identity = age_keys.load_identity(keys_dir)
    if identity is not None and binding is not None and \
            binding.recipient == str(identity.to_public()):
        return binding
    if identity is None:
        identity = age_keys.new_identity(keys_dir)
    binding = age_keys.bind(load_secret_key(home), str(identity.to_public()))
    _write_public(public_key_path(home), public, unit_code, binding)
    return binding


def _write_public(path: Path, public: PublicKey, unit_code: str, binding: Binding) -> None:
    temp = path.with_name(f".{path.name}.part")
    temp.write_text(age_keys.key_file_text(public, _comment(unit_code), binding),
                    encoding="utf-8")
    os.replace(temp, path)


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
        for leftover in (secret_path, public_path, age_keys.identity_path(secret_path.parent)):
            leftover.unlink(missing_ok=True)
    with store.transaction():
        node = init_node(store, role, unit_code, name, parent_code, kind=kind)
        secret = SecretKey.generate()
        secret_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret.save(secret_path)
        public = secret.public_key()
        identity = age_keys.new_identity(secret_path.parent)
        binding = age_keys.bind(secret, str(identity.to_public()))
        public_path.write_text(age_keys.key_file_text(public, _comment(unit_code), binding),
                               encoding="utf-8")
    return node, public.fingerprint()
