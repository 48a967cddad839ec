"""minisign-compatible Ed25519 signatures for sync bundles.

Signatures and public keys use minisign's formats byte for byte, so anyone can
check a bundle with the stock tool (`minisign -V -H -P <key> -m FILE -x SIG`):

- Public key: `untrusted comment: minisign public key <ID>` then base64 of
  `b"Ed"` + key id (8 bytes) + Ed25519 public key (32 bytes).
- Signature, four lines: `untrusted comment: ...`; base64 of `b"ED"` + key id +
  Ed25519 signature over the BLAKE2b-512 digest of the data; `trusted comment: ...`;
  base64 of an Ed25519 "global" signature over the data signature + the trusted
  comment, which is what makes that comment trustworthy.

We only ever produce prehashed (`ED`) signatures. Legacy `Ed` signatures (over the
raw data) are refused unless a caller asks for them explicitly.

The secret key file is our own format, not minisign's (which would need scrypt
for password-protected keys). It is plain ASCII, one `name: value` per line; lines
starting with `#` are comments::

    # VillageBook secret signing key. ...
    format: villagebook-secret-key 1
    key-id: 796ED72AA108A4BC
    public-key: RWS8pAihKtdueci8YfTzwBK95b7KYdAtuRaB5t24o4Kxwq0PE6f/fo6D
    seed: <base64 of the 32-byte Ed25519 seed>

`key-id` and `public-key` are redundant with the seed on purpose: loading checks
all three agree, so a damaged or hand-edited file is refused instead of silently
signing with a different key.

Errors carry stable reason codes (`SignatureError.reason`); the English messages
are for logs only, the UI translates the codes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from villagebook.store.durable import fsync_directory

__all__ = [
    "DEFAULT_UNTRUSTED_COMMENT",
    "MAX_SIGNATURE_TEXT_BYTES",
    "MAX_TRUSTED_COMMENT_BYTES",
    "MAX_UNTRUSTED_COMMENT_BYTES",
    "KeyFormatError",
    "ParsedSignature",
    "PublicKey",
    "SecretKey",
    "SignatureError",
    "SignatureFailure",
    "parse_signature",
    "sign",
    "sign_file",
    "verify",
    "verify_file",
]

SignatureFailure = Literal[
    "malformed",
    "unknown_algorithm",
    "legacy_refused",
    "key_mismatch",
    "bad_signature",
    "bad_global_signature",
    "bad_comment",
]

ALG_KEY: Final = b"Ed"
ALG_PREHASHED: Final = b"ED"
ALG_LEGACY: Final = b"Ed"
KEY_ID_BYTES: Final = 8
PUBLIC_KEY_BYTES: Final = 32
SEED_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64

UNTRUSTED_PREFIX: Final = "untrusted comment: "
TRUSTED_PREFIX: Final = "trusted comment: "
DEFAULT_UNTRUSTED_COMMENT: Final = "signature from villagebook secret key"

#: Signature text arrives in bundles from other machines: never parse more than this.
MAX_SIGNATURE_TEXT_BYTES: Final = 4096
#: minisign 0.11 reads the untrusted comment line into 1024 bytes, prefix and newline
#: included; anything longer makes *its* verification fail.
MAX_UNTRUSTED_COMMENT_BYTES: Final = 1003
#: Well under minisign's own 8173, so a whole signature always fits the parse bound.
MAX_TRUSTED_COMMENT_BYTES: Final = 2048
_MAX_KEY_TEXT_BYTES: Final = 4096

_HASH_CHUNK_BYTES: Final = 1 << 20
_SECRET_KEY_FORMAT: Final = "villagebook-secret-key 1"
_SECRET_KEY_FIELDS: Final = ("format", "key-id", "public-key", "seed")

# Comments must stay one line and must not smuggle terminal escapes into logs or the
# UI: refuse every C0/C1 control but TAB (minisign's own default comment uses TABs),
# the Unicode line/paragraph separators that str.splitlines() honours, and lone
# surrogates, which cannot be encoded.
_FORBIDDEN_IN_COMMENT: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

# The fingerprint is read aloud and compared by people, so it is short (16 digits,
# about 53 bits). The signer picks the key id freely, so without stretching an
# attacker could grind key ids until a fingerprint matches in a few GPU-days;
# 20,000 PBKDF2 rounds (~6 ms here) multiply that work by about 2**15.
_FINGERPRINT_SALT: Final = b"villagebook key fingerprint v1"
_FINGERPRINT_ROUNDS: Final = 20_000

# OpenSSL, behind `cryptography`, accepts forged signatures for public keys of small
# order (e.g. the identity point: an all-zero signature then verifies for any data)
# and for non-canonical encodings. libsodium, and so minisign, refuses such keys;
# so do we. These are the y-coordinates of the eight small-order points.
_FIELD_PRIME: Final = 2**255 - 19
_SMALL_ORDER_Y: Final = frozenset(
    {
        0,
        1,
        _FIELD_PRIME - 1,
        2707385501144840649318225287225658788936804267575313519463743609750303402022,
        55188659117513257062467267217118295137698188065244968500265048394206261417927,
    }
)


class SignatureError(Exception):
    """A signature could not be produced or was not accepted.

    `reason` is a stable machine code (see `SignatureFailure`); `detail` is English
    for logs.
    """

    def __init__(self, reason: SignatureFailure, detail: str = "") -> None:
        # Both go to args so the exception survives pickling between processes.
        super().__init__(reason, detail)
        self.reason: SignatureFailure = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class KeyFormatError(ValueError):
    """A public key text or secret key file is malformed or damaged."""


def _key_id_hex(key_id: bytes) -> str:
    # minisign reads the id as a little-endian u64. 0.12 prints it zero-padded to
    # 16 digits; 0.11 drops leading zeros. We pad: a fixed width reads better.
    return f"{int.from_bytes(key_id, 'little'):016X}"


def _comment_problem(comment: str, max_bytes: int) -> str | None:
    """Why `comment` cannot go into a signature, or None if it can."""
    bad = _FORBIDDEN_IN_COMMENT.search(comment)
    if bad is not None:
        return f"control character U+{ord(bad.group()):04X} at index {bad.start()}"
    if len(comment.encode("utf-8")) > max_bytes:
        return f"longer than {max_bytes} bytes"
    return None


def _b64_exact(text: str, size: int) -> bytes | None:
    """Decode canonical base64 of exactly `size` bytes, or None."""
    try:
        raw = b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        return None
    # Re-encoding rejects non-canonical spellings (stray padding bits, whitespace).
    if len(raw) != size or b64encode(raw).decode("ascii") != text:
        return None
    return raw


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with its minisign key id."""

    key_id: bytes
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_BYTES or len(self.key) != PUBLIC_KEY_BYTES:
            raise KeyFormatError("a public key needs an 8-byte key id and 32 key bytes")
        y = int.from_bytes(self.key, "little") & ((1 << 255) - 1)  # bit 255: sign of x
        if y >= _FIELD_PRIME or y in _SMALL_ORDER_Y:
            raise KeyFormatError("not a usable Ed25519 public key (small order or non-canonical)")

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        """Read a minisign public key: a whole `.pub` file or just its base64 line."""
        if len(text) > _MAX_KEY_TEXT_BYTES:
            raise KeyFormatError("public key text is too long")
        lines = [line.strip() for line in text.strip().splitlines()]
        # Prefix without its space: stripping may have eaten it from an empty comment.
        if len(lines) == 2 and lines[0].startswith(UNTRUSTED_PREFIX.rstrip()):
            encoded = lines[1]
        elif len(lines) == 1:
            encoded = lines[0]
        else:
            raise KeyFormatError(
                "expected a minisign public key: an 'untrusted comment:' line and a base64 "
                "line, or the base64 line alone"
            )
        raw = _b64_exact(encoded, 2 + KEY_ID_BYTES + PUBLIC_KEY_BYTES)
        if raw is None:
            raise KeyFormatError("public key is not 56 characters of valid base64")
        if raw[:2] != ALG_KEY:
            raise KeyFormatError(f"unsupported public key algorithm {raw[:2]!r}")
        return cls(key_id=raw[2 : 2 + KEY_ID_BYTES], key=raw[2 + KEY_ID_BYTES :])

    def base64(self) -> str:
        """The key as minisign's one-line base64 form (what `minisign -P` takes)."""
        return b64encode(ALG_KEY + self.key_id + self.key).decode("ascii")

    def to_text(self, comment: str | None = None) -> str:
        """The contents of a minisign public key file (two lines)."""
        if comment is None:
            comment = f"minisign public key {self.key_id_hex}"
        problem = _comment_problem(comment, MAX_UNTRUSTED_COMMENT_BYTES)
        if problem is not None:
            raise ValueError(f"public key comment: {problem}")
        return f"{UNTRUSTED_PREFIX}{comment}\n{self.base64()}\n"

    @property
    def key_id_hex(self) -> str:
        """The key id as minisign shows it: a little-endian u64 in upper-case hex."""
        return _key_id_hex(self.key_id)

    def fingerprint(self) -> str:
        """Sixteen digits in four groups, for people to compare keys by phone."""
        return _fingerprint(self.key_id, self.key)


@functools.lru_cache(maxsize=256)
def _fingerprint(key_id: bytes, key: bytes) -> str:
    # Cached because the key list screen may ask for many, each costing a few ms.
    stretched = hashlib.pbkdf2_hmac("sha256", key_id + key, _FINGERPRINT_SALT, _FINGERPRINT_ROUNDS)
    # 128 bits reduced mod 10**16: the modulo bias is below 2**-70.
    digits = f"{int.from_bytes(stretched[:16], 'big') % 10**16:016d}"
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class SecretKey:
    """An Ed25519 signing key (its 32-byte seed) with its minisign key id."""

    key_id: bytes
    seed: bytes = field(repr=False)  # never in logs or tracebacks

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_BYTES or len(self.seed) != SEED_BYTES:
            raise KeyFormatError("a secret key needs an 8-byte key id and a 32-byte seed")

    @classmethod
    def generate(cls) -> SecretKey:
        """A new random key pair; the key id is random too, as in minisign."""
        return cls(key_id=secrets.token_bytes(KEY_ID_BYTES), seed=secrets.token_bytes(SEED_BYTES))

    def public_key(self) -> PublicKey:
        """The matching public key."""
        public = _private_key(self).public_key().public_bytes_raw()
        return PublicKey(key_id=self.key_id, key=public)

    def _file_text(self) -> str:
        # The format is described in the module docstring.
        public = self.public_key()
        return (
            "# VillageBook secret signing key. Keep this file on this device only;\n"
            "# never send it to anyone. Give others the public key instead.\n"
            f"format: {_SECRET_KEY_FORMAT}\n"
            f"key-id: {public.key_id_hex}\n"
            f"public-key: {public.base64()}\n"
            f"seed: {b64encode(self.seed).decode('ascii')}\n"
        )

    def save(self, path: Path) -> None:
        """Write the key to a new file readable by its owner only (mode 0o600).

        The file is complete or absent, even after a power cut, and an existing
        file is never replaced: raises FileExistsError instead.
        """
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise FileExistsError(f"refusing to overwrite existing key file {path}")
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        # 0o600 from the first instant: a chmod afterwards would leave a window in
        # which another user could open the file.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._file_text().encode("ascii"))
                handle.flush()
                os.fsync(handle.fileno())
            _publish_without_overwrite(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        fsync_directory(path.parent)

    @classmethod
    def load(cls, path: Path) -> SecretKey:
        """Read a key written by `save`.

        Raises KeyFormatError if the file is damaged, OSError if it cannot be read.
        """
        path = Path(path)
        with path.open("rb") as handle:
            raw = handle.read(_MAX_KEY_TEXT_BYTES + 1)
        try:
            return cls._from_file_text(raw)
        except KeyFormatError as exc:
            raise KeyFormatError(f"{path}: not a usable VillageBook secret key: {exc}") from None

    @classmethod
    def _from_file_text(cls, raw: bytes) -> SecretKey:
        if len(raw) > _MAX_KEY_TEXT_BYTES:
            raise KeyFormatError("file is too large")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise KeyFormatError("file is not ASCII text") from None
        values = _parse_fields(text)
        if values["format"] != _SECRET_KEY_FORMAT:
            raise KeyFormatError(f"unknown format {values['format']!r}")
        seed = _b64_exact(values["seed"], SEED_BYTES)
        if seed is None:
            raise KeyFormatError("seed is not 32 bytes of valid base64")
        public = PublicKey.from_text(values["public-key"])
        if values["key-id"] != public.key_id_hex:
            raise KeyFormatError("key-id does not match public-key")
        secret = cls(key_id=public.key_id, seed=seed)
        if secret.public_key() != public:
            raise KeyFormatError("seed does not match public-key")
        return secret


def _private_key(secret: SecretKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(secret.seed)


def _parse_fields(text: str) -> dict[str, str]:
    """The `name: value` lines of a secret key file, each expected name exactly once."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition(": ")
        if not sep or name not in _SECRET_KEY_FIELDS:
            raise KeyFormatError(f"line {number} is not one of {', '.join(_SECRET_KEY_FIELDS)}")
        if name in values:
            raise KeyFormatError(f"{name} appears twice")
        values[name] = value.strip()
    missing = [name for name in _SECRET_KEY_FIELDS if name not in values]
    if missing:
        raise KeyFormatError(f"missing {', '.join(missing)}")
    return values


def _publish_without_overwrite(temp: Path, path: Path) -> None:
    """Give the finished temp file its final name, failing if that name is taken."""
    try:
        # A hard link is atomic and, unlike os.replace, refuses an existing target,
        # so a key created concurrently is never clobbered.
        os.link(temp, path)
    except FileExistsError:
        raise FileExistsError(f"refusing to overwrite existing key file {path}") from None
    except OSError:
        # Filesystems without hard links (FAT on SD cards, some Android storage):
        # os.replace is still atomic; only the check-then-replace is racy.
        if path.exists() or path.is_symlink():
            raise FileExistsError(f"refusing to overwrite existing key file {path}") from None
        os.replace(temp, path)


@dataclass(frozen=True)
class ParsedSignature:
    """A syntactically valid minisign signature, not yet verified.

    Use `key_id` to pick the public key, then call `verify`. Nothing here,
    `trusted_comment` included, may be believed before `verify` succeeds.
    """

    algorithm: Literal["ED", "Ed"]
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes

    @property
    def is_legacy(self) -> bool:
        """True for old-style signatures over the raw data instead of its hash."""
        return self.algorithm == "Ed"

    @property
    def key_id_hex(self) -> str:
        """The signer's key id, formatted like `PublicKey.key_id_hex`."""
        return _key_id_hex(self.key_id)


def parse_signature(signature_text: str | bytes) -> ParsedSignature:
    """Split minisign signature text into its parts, checking only its syntax.

    Accepts `bytes` (UTF-8) so callers can pass a file's raw contents; at most
    MAX_SIGNATURE_TEXT_BYTES are accepted. Raises SignatureError with reason
    "malformed", "unknown_algorithm" or "bad_comment".
    """
    lines = _signature_lines(signature_text)
    untrusted_line, signature_line, trusted_line, global_line = lines
    if not untrusted_line.startswith(UNTRUSTED_PREFIX):
        raise SignatureError("malformed", "line 1 must start with 'untrusted comment: '")
    blob = _b64_exact(signature_line, 2 + KEY_ID_BYTES + SIGNATURE_BYTES)
    if blob is None:
        raise SignatureError("malformed", "line 2 is not a base64 minisign signature")
    algorithm = blob[:2]
    if algorithm not in (ALG_PREHASHED, ALG_LEGACY):
        raise SignatureError("unknown_algorithm", f"algorithm {algorithm!r}")
    if not trusted_line.startswith(TRUSTED_PREFIX):
        raise SignatureError("malformed", "line 3 must start with 'trusted comment: '")
    trusted_comment = trusted_line[len(TRUSTED_PREFIX) :]
    problem = _comment_problem(trusted_comment, MAX_TRUSTED_COMMENT_BYTES)
    if problem is not None:
        raise SignatureError("bad_comment", f"trusted comment: {problem}")
    global_signature = _b64_exact(global_line, SIGNATURE_BYTES)
    if global_signature is None:
        raise SignatureError("malformed", "line 4 is not a base64 global signature")
    return ParsedSignature(
        algorithm="ED" if algorithm == ALG_PREHASHED else "Ed",
        key_id=blob[2 : 2 + KEY_ID_BYTES],
        signature=blob[2 + KEY_ID_BYTES :],
        trusted_comment=trusted_comment,
        global_signature=global_signature,
    )


def _signature_lines(signature_text: str | bytes) -> list[str]:
    """The four lines of a signature, size-bounded, decoded and without line ends."""
    # Check the length before any decoding so a huge input costs nothing.
    if len(signature_text) > MAX_SIGNATURE_TEXT_BYTES:
        raise SignatureError("malformed", f"longer than {MAX_SIGNATURE_TEXT_BYTES} bytes")
    try:
        if isinstance(signature_text, bytes):
            text = signature_text.decode("utf-8")
        else:
            text = signature_text
            # A str can be short in characters yet long in bytes, or hold lone
            # surrogates that have no UTF-8 form at all.
            if len(text.encode("utf-8")) > MAX_SIGNATURE_TEXT_BYTES:
                raise SignatureError("malformed", "too long once encoded as UTF-8")
    except UnicodeError:
        raise SignatureError("malformed", "not UTF-8 text") from None
    # Split on "\n" only (not str.splitlines) so separators inside a comment are
    # seen and refused rather than silently starting a new line. Like minisign,
    # tolerate a CR before each LF: files copied through Windows tools get them.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) != 4:
        raise SignatureError("malformed", f"expected 4 lines, found {len(lines)}")
    return [line.removesuffix("\r") for line in lines]


def _check_before_hashing(
    public: PublicKey, parsed: ParsedSignature, *, allow_legacy: bool
) -> None:
    # Cheap checks first, so a wrong key never costs a pass over a large file.
    if parsed.is_legacy and not allow_legacy:
        raise SignatureError("legacy_refused", "legacy (non-prehashed) signature")
    if parsed.key_id != public.key_id:
        raise SignatureError(
            "key_mismatch",
            f"signed by key {parsed.key_id_hex}, checking with key {public.key_id_hex}",
        )


def _check_signatures(public: PublicKey, parsed: ParsedSignature, message: bytes) -> str:
    verifier = Ed25519PublicKey.from_public_bytes(public.key)
    try:
        verifier.verify(parsed.signature, message)
    except InvalidSignature:
        raise SignatureError("bad_signature", "data does not match the signature") from None
    signed_comment = parsed.signature + parsed.trusted_comment.encode("utf-8")
    try:
        verifier.verify(parsed.global_signature, signed_comment)
    except InvalidSignature:
        raise SignatureError(
            "bad_global_signature", "trusted comment does not match its signature"
        ) from None
    return parsed.trusted_comment


def verify(
    public: PublicKey, data: bytes, signature_text: str | bytes, *, allow_legacy: bool = False
) -> str:
    """Check `signature_text` over `data` with `public`; return the trusted comment.

    Raises SignatureError (and nothing else for bad input). Legacy `Ed`
    signatures are refused unless `allow_legacy` is True.
    """
    parsed = parse_signature(signature_text)
    _check_before_hashing(public, parsed, allow_legacy=allow_legacy)
    message = data if parsed.is_legacy else hashlib.blake2b(data, digest_size=64).digest()
    return _check_signatures(public, parsed, message)


def verify_file(public: PublicKey, path: Path, signature_text: str | bytes) -> str:
    """Like `verify` for a file, read in chunks so memory stays bounded.

    Legacy signatures are always refused: they would need the whole file in memory.
    OSError from reading the file propagates unchanged.
    """
    parsed = parse_signature(signature_text)
    _check_before_hashing(public, parsed, allow_legacy=False)
    return _check_signatures(public, parsed, _blake2b_file(Path(path)))


def sign(
    secret: SecretKey,
    data: bytes,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_UNTRUSTED_COMMENT,
) -> str:
    """Sign `data`; return the four-line minisign signature text.

    `trusted_comment` is signed too (e.g. a timestamp and what the data is).
    Raises SignatureError("bad_comment") for a comment minisign could not carry.
    """
    _check_comments(trusted_comment, untrusted_comment)
    digest = hashlib.blake2b(data, digest_size=64).digest()
    return _signature_text(secret, digest, trusted_comment, untrusted_comment)


def sign_file(
    secret: SecretKey,
    path: Path,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_UNTRUSTED_COMMENT,
) -> str:
    """Like `sign` for a file, read in chunks so memory stays bounded."""
    _check_comments(trusted_comment, untrusted_comment)
    digest = _blake2b_file(Path(path))
    return _signature_text(secret, digest, trusted_comment, untrusted_comment)


def _check_comments(trusted_comment: str, untrusted_comment: str) -> None:
    problem = _comment_problem(trusted_comment, MAX_TRUSTED_COMMENT_BYTES)
    if problem is not None:
        raise SignatureError("bad_comment", f"trusted comment: {problem}")
    problem = _comment_problem(untrusted_comment, MAX_UNTRUSTED_COMMENT_BYTES)
    if problem is not None:
        raise SignatureError("bad_comment", f"untrusted comment: {problem}")


def _signature_text(
    secret: SecretKey, digest: bytes, trusted_comment: str, untrusted_comment: str
) -> str:
    private = _private_key(secret)
    signature = private.sign(digest)
    global_signature = private.sign(signature + trusted_comment.encode("utf-8"))
    blob = ALG_PREHASHED + secret.key_id + signature
    return (
        f"{UNTRUSTED_PREFIX}{untrusted_comment}\n"
        f"{b64encode(blob).decode('ascii')}\n"
        f"{TRUSTED_PREFIX}{trusted_comment}\n"
        f"{b64encode(global_signature).decode('ascii')}\n"
    )


def _blake2b_file(path: Path) -> bytes:
    hasher = hashlib.blake2b(digest_size=64)
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.digest()
