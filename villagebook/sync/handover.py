"""Hand-overs: a device of a unit vouching for another device of the same unit.

A unit's first key may be vouched for by its parent (a township enrols its
villages towards the district), but every further device of the unit must be
vouched for by the unit itself: when a laptop trusts another laptop of its own
unit directly (`keys trust FILE --unit OWN_UNIT`), it signs the one-line
statement `villagebook-device <unit> <key id> <public key>` with its own key.
The signature (minisign's format, the statement as its trusted comment) travels
with the key's enrolment, so a township can relay it but never forge it.
Checking one by hand: `minisign -V -P <signer's key> -m statement.txt -x sig`.
"""

from __future__ import annotations

from villagebook.sync.minisign import (
    PublicKey,
    SecretKey,
    SignatureError,
    parse_signature,
    sign,
    verify,
)

PREFIX = "villagebook-device"


def statement(unit: str, public: PublicKey) -> str:
    """The text a device signs to hand over `public` as another device of `unit`."""
    return f"{PREFIX} {unit} {public.key_id_hex} {public.base64()}"


def sign_handover(secret: SecretKey, unit: str, public: PublicKey) -> str:
    """The signature text of a hand-over of `public` for `unit`, by `secret`."""
    text = statement(unit, public)
    signer = secret.public_key().key_id_hex
    return sign(secret, text.encode("utf-8"), text,
                f"villagebook hand-over of key {public.key_id_hex} by key {signer}")


def signer_of(signature: str) -> str | None:
    """The key id a hand-over's signature names (not yet verified), or None."""
    try:
        return parse_signature(signature).key_id_hex
    except SignatureError:
        return None


def is_valid(signer: PublicKey, unit: str, public: PublicKey, signature: str) -> bool:
    """Whether `signature` is `signer`'s hand-over of `public` as a device of `unit`."""
    text = statement(unit, public)
    try:
        return verify(signer, text.encode("utf-8"), signature) == text
    except SignatureError:
        return False
