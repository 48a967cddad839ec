"""The age layer around a signed bundle: sealing on export, opening on merge.

Sign first, then encrypt: the bundle's zip (manifest, signature, payload,
relayed segments) is written exactly as before, then encrypted in the age v1
format (age-encryption.org/v1, X25519 recipients) to every trusted, unrevoked
device of the receiving unit, by pyrage (rage), streaming in 64 KiB chunks.
Opening checks the header first, cheaply and under caps (no more than
`MAX_STANZAS` stanzas, X25519 and grease stanzas only), then decrypts streaming
into a file under HOME/.decrypting, removed on every path and swept on start.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyrage
from pyrage import x25519

from villagebook.i18n import N_
from villagebook.sync.errors import BundleRejected

MAGIC = b"age-encryption.org/v1\n"
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
#: No office has more devices than this; every X25519 stanza costs a scalar
#: multiplication before anything is authenticated, so the header is capped.
MAX_STANZAS = 64
MAX_HEADER_BYTES = 16 * 1024
SCRATCH_DIR = ".decrypting"
#: A scratch file untouched this long is a crash's leftover (a live merge writes it
#: and opens it within seconds).
_STALE_SECONDS = 600


@dataclass(frozen=True)
class Header:
    """What an age header says before any key is tried."""

    stanzas: int
    x25519: int


def is_sealed(handle_start: bytes) -> bool:
    """Whether a file's first bytes are an age v1 header."""
    return handle_start.startswith(MAGIC)


def scratch_dir(home: Path) -> Path:
    """The folder of temporary plaintext bundles, inside the home."""
    return home / SCRATCH_DIR


def sweep_scratch(home: Path, *, now: float | None = None) -> int:
    """Remove plaintext left by a crashed merge or export; how many files went."""
    folder = scratch_dir(home)
    if not folder.is_dir():
        return 0
    limit = (time.time() if now is None else now) - _STALE_SECONDS
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < limit:
                entry.unlink()
                removed += 1
        except OSError:
            continue  # another process's file, or one already gone
    return removed


@contextmanager
def scratch_file(home: Path, suffix: str) -> Iterator[Path]:
    """A fresh file name under HOME/.decrypting, removed when the block ends."""
    folder = scratch_dir(home)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{secrets.token_hex(8)}{suffix}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _damaged() -> BundleRejected:
    return BundleRejected("damaged_encrypted", N_("The encrypted bundle is damaged or "
                          "truncated; ask the sender for a new copy"))


def read_header(handle: BinaryIO) -> Header:
    """Check an age header under caps; BundleRejected before any expensive work."""
    read_line = handle.readline
    if read_line(len(MAGIC)) != MAGIC:
        raise _damaged()
    stanzas = x25519_count = 0
    used = len(MAGIC)
    while True:
        line = read_line(MAX_HEADER_BYTES - used + 1)
        used += len(line)
        if not line.endswith(b"\n") or used > MAX_HEADER_BYTES:
            if stanzas >= MAX_STANZAS:
                raise _too_many()
            raise _damaged()
        if line.startswith(b"--- "):
            return Header(stanzas, x25519_count)
        if not line.startswith(b"-> "):
            continue  # a stanza's body line
        stanzas += 1
        if stanzas > MAX_STANZAS:
            raise _too_many()
        kind = line[3:].split(b" ", 1)[0].strip()
        x25519_count += _check_kind(kind)


def _too_many() -> BundleRejected:
    return BundleRejected("too_many_recipients", N_("The encrypted bundle names more than "
                          "{limit} recipients; it was not opened"), limit=MAX_STANZAS)


def _check_kind(kind: bytes) -> int:
    if kind == b"X25519":
        return 1
    if kind.endswith(b"-grease"):
        return 0  # age's random stanzas that keep readers tolerant; carries nothing
    if kind == b"scrypt":
        raise BundleRejected("passphrase_encrypted", N_("The bundle is encrypted with a "
                             "passphrase, not to this office's devices; it was not opened"))
    raise BundleRejected("unknown_stanza", N_("The encrypted bundle uses a kind of key this "
                         "program does not accept ({kind}); it was not opened"),
                         kind=kind[:40].decode("ascii", "replace"))


def seal(plain: Path, target: Path, recipients: list[str]) -> None:
    """Encrypt the file `plain` to `recipients` into `target` (streaming), durably."""
    parsed = [x25519.Recipient.from_str(text) for text in recipients]
    try:
        pyrage.encrypt_file(str(plain), str(target), parsed)
    except pyrage.EncryptError as error:
        _raise_os_error(error, target)
        raise
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())


def unseal(handle: BinaryIO, target: Path, identity: x25519.Identity | None,
           receiver: str | None) -> None:
    """Decrypt an age file (its header already checked) into `target`, streaming.

    `receiver` is the unit the file name says the bundle is for, when it names
    one this node knows; None otherwise.
    """
    if identity is None:
        raise _not_for_us(receiver)
    handle.seek(0)
    # rage reads a path on its own about 15% faster than through Python's file
    # objects; /dev/fd/N names the very file already opened and checked (no swap).
    by_path = Path(f"/dev/fd/{handle.fileno()}")
    try:
        if by_path.exists():
            pyrage.decrypt_file(str(by_path), str(target), [identity])
            return
        with target.open("wb") as out:
            pyrage.decrypt_io(handle, out, [identity])  # type: ignore[arg-type]
    except pyrage.DecryptError as error:
        if "No matching keys" in str(error):
            raise _not_for_us(receiver) from None
        _raise_os_error(error, target)
        raise _damaged() from None
    except OSError as error:
        # The payload's failures (a chunk that does not authenticate, a truncated
        # stream) surface from the stream as OSError without an errno; our own
        # disk's failures carry one and are not the bundle's fault.
        if error.errno is not None:
            raise
        _raise_os_error(error, target)
        raise _damaged() from None


def _raise_os_error(error: Exception, target: Path) -> None:
    """rage reports some I/O failures as text ("No space left on device (os error
    28)"): raise them as the OSError they are, so a full disk is named as one."""
    found = _OS_ERROR.search(str(error))
    if found is not None:
        code = int(found.group(1))
        raise OSError(code, os.strerror(code), str(target)) from None


def _not_for_us(receiver: str | None) -> BundleRejected:
    if receiver:
        return BundleRejected("not_for_this_device", N_("This bundle is for {receiver}; this "
                              "laptop cannot open it"), receiver=receiver)
    return BundleRejected("not_for_this_device", N_("This bundle was not encrypted to this "
                          "laptop's key; this laptop cannot open it"))
