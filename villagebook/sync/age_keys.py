"""A device's encryption identity (age, X25519) and its binding to the signing key.

Each device holds an age identity beside its minisign key: `keys/node.age`, in
`age-keygen`'s format, so that `age -d -i HOME/keys/node.age` opens a bundle by
hand. Its public half, the recipient (`age1…`), travels *bound* to the signing
key: the binding is the recipient and an Ed25519 signature, by the signing key,
of the statement `villagebook-age-recipient <key id> <recipient>`. It appears as
one extra line of the public key file (`minisign` reads the first two lines
only), in the enrolments of a manifest and in the manifest's own `recipient`
field. A recipient is believed only with a binding that the key it belongs to
signed (see docs/SYNC.md, "Encryption").
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pyrage import IdentityError, RecipientError, x25519

from villagebook.sync.minisign import PublicKey, SecretKey

IDENTITY_NAME = "node.age"
#: The public key file's extra line; `minisign` ignores every line after the second.
LINE_PREFIX = "villagebook-age-recipient: "
MAX_BINDING_TEXT = 300
_STATEMENT = "villagebook-age-recipient"


@dataclass(frozen=True)
class Binding:
    """A recipient and the signing key's signature over it."""

    recipient: str
    signature: str

    def text(self) -> str:
        """The one-string form that travels: `age1… SIGNATURE`."""
        return f"{self.recipient} {self.signature}"

    @classmethod
    def parse(cls, text: object) -> Binding | None:
        """A binding from its one-string form; None if it is not one."""
        if not isinstance(text, str) or len(text) > MAX_BINDING_TEXT:
            return None
        parts = text.split(" ")
        if len(parts) != 2 or not parts[0].startswith("age1"):
            return None
        return cls(parts[0], parts[1])


def _statement(public: PublicKey, recipient: str) -> bytes:
    return f"{_STATEMENT} {public.key_id_hex} {recipient}".encode("ascii")


def bind(secret: SecretKey, recipient: str) -> Binding:
    """Sign `recipient` with the signing key `secret`."""
    signature = Ed25519PrivateKey.from_private_bytes(secret.seed).sign(
        _statement(secret.public_key(), recipient))
    return Binding(recipient, base64.b64encode(signature).decode("ascii"))


def is_bound(public: PublicKey, binding: Binding) -> bool:
    """Whether `binding` is a valid X25519 recipient signed by `public`."""
    try:
        x25519.Recipient.from_str(binding.recipient)
        signature = base64.b64decode(binding.signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public.key).verify(
            signature, _statement(public, binding.recipient))
    except (RecipientError, binascii.Error, InvalidSignature, ValueError):
        return False
    return True


def key_lines(text: str) -> str:
    """A public key file without its recipient line: what minisign's parser reads."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(LINE_PREFIX))


def binding_in(text: str) -> Binding | None:
    """The binding a public key file carries on its extra line, or None."""
    for line in text.splitlines():
        if line.startswith(LINE_PREFIX):
            return Binding.parse(line[len(LINE_PREFIX):].strip())
    return None


def key_file_text(public: PublicKey, comment: str, binding: Binding | None) -> str:
    """A public key file: minisign's two lines, then the recipient line."""
    text = public.to_text(comment)
    return text + (f"{LINE_PREFIX}{binding.text()}\n" if binding else "")


def identity_path(keys_dir: Path) -> Path:
    """Where a device's age identity lives (readable by its owner only)."""
    return keys_dir / IDENTITY_NAME


def new_identity(keys_dir: Path) -> x25519.Identity:
    """Make and save a fresh identity (age-keygen's file format), atomically."""
    identity = x25519.Identity.generate()
    path = identity_path(keys_dir)
    temp = path.with_name(f".{path.name}.part")
    text = (f"# villagebook device encryption identity\n"
            f"# public key: {identity.to_public()}\n{identity}\n")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    return identity


def load_identity(keys_dir: Path) -> x25519.Identity | None:
    """This device's identity, or None when the home has none (yet)."""
    try:
        text = identity_path(keys_dir).read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                return x25519.Identity.from_str(line.strip())
            except IdentityError:
                return None
    return None
