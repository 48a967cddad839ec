"""Reading an untrusted bundle archive without trusting anything in it.

Never `extractall`: every member is checked against a strict name pattern, the
entry count, per-member and total sizes and the compression ratio are capped,
and members are read in chunks under a byte cap. Any damage (truncation, a bit
flip in compressed data, a bad CRC) becomes a `BundleRejected`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from villagebook.i18n import N_
from villagebook.sync import format as fmt
from villagebook.sync.errors import BundleRejected

_CHUNK = 1 << 20
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError)


def damaged() -> BundleRejected:
    """The refusal for an archive that cannot be read as a whole."""
    return BundleRejected("damaged", N_("The file is not a complete bundle (damaged or truncated)"))


def _unsafe(name: str) -> BundleRejected:
    return BundleRejected("bad_member", N_("The bundle holds an unexpected member {name}"),
                          name=name[:120].encode("unicode_escape").decode("ascii"))


def _too_large(what: str) -> BundleRejected:
    return BundleRejected("too_large",
                          N_("The bundle exceeds a safety limit ({what}); it was not opened"),
                          what=what)


def _cap_of(name: str) -> int:
    if name.endswith(fmt.MANIFEST):
        return fmt.MAX_MANIFEST_BYTES
    if name.endswith(fmt.SIGNATURE):
        return fmt.MAX_SIGNATURE_BYTES
    if name.startswith(fmt.FILE_DIR):
        return fmt.MAX_FILE_BYTES
    return fmt.MAX_PAYLOAD_BYTES


class SafeArchive:
    """A bundle archive opened for checked, bounded reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle = open_regular(path)  # a missing file: OSError, as is
        try:
            if os.fstat(handle.fileno()).st_size > fmt.MAX_BUNDLE_BYTES:
                raise _too_large("file size")
            try:
                self._zip = zipfile.ZipFile(handle)
            except _READ_ERRORS:
                raise damaged() from None
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        try:
            self.members = self._check(self._zip.infolist())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the file."""
        self._zip.close()
        self._handle.close()

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @staticmethod
    def _check(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        carried = sum(info.filename.startswith(fmt.FILE_DIR) for info in infos)
        if len(infos) - carried > fmt.MAX_ENTRIES or carried > fmt.MAX_FILES:
            raise _too_large("number of members")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            mode = info.external_attr >> 16
            if (not fmt.MEMBER.fullmatch(name) or name in members or info.is_dir()
                    or stat.S_ISLNK(mode) or info.flag_bits & 0x1
                    or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)):
                raise _unsafe(name)
            if info.file_size > _cap_of(name):
                raise _too_large("member size")
            if info.file_size > (1 << 20) and info.file_size > fmt.MAX_RATIO * max(
                    info.compress_size, 1):
                raise _too_large("compression ratio")
            total += info.file_size
            members[name] = info
        if total > fmt.MAX_TOTAL_BYTES:
            raise _too_large("total size")
        _check_no_overlap(infos)
        return members

    def read(self, name: str) -> bytes:
        """A whole (small) member's bytes, at most its cap."""
        return b"".join(self.chunks(name))

    def chunks(self, name: str) -> Iterator[bytes]:
        """A member's bytes in chunks; never more than its declared size and cap."""
        info = self.members.get(name)
        if info is None:
            raise BundleRejected("missing_member", N_("The bundle lacks its member {name}"),
                                 name=name)
        cap = min(info.file_size, _cap_of(name))
        seen = 0
        try:
            with self._zip.open(info) as handle:
                while chunk := handle.read(_CHUNK):
                    seen += len(chunk)
                    if seen > cap:
                        raise _too_large("member size")
                    yield chunk
        except BundleRejected:
            raise
        except _READ_ERRORS:
            raise damaged() from None

    def sha256(self, name: str) -> tuple[str, int]:
        """A member's SHA-256 (hex) and size, read in chunks."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self.chunks(name):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    def lines(self, name: str) -> Iterator[bytes]:
        """A member's lines (without the newline), each at most MAX_LINE_BYTES."""
        rest = b""
        for chunk in self.chunks(name):
            rest += chunk
            *complete, rest = rest.split(b"\n")
            # Every line is checked, not only the unfinished one: a line completed by
            # the next chunk could otherwise be nearly two chunks long.
            if len(rest) > fmt.MAX_LINE_BYTES or any(
                    len(line) > fmt.MAX_LINE_BYTES for line in complete):
                raise _too_large("line length")
            yield from complete
        if rest:
            yield rest


def not_a_file(path: Path) -> BundleRejected:
    """The refusal for a name that is no regular file (a pipe, a device, a socket)."""
    return BundleRejected("not_a_file", N_("{path} is not a regular file (a pipe, a device or "
                          "a folder); only bundle files can be merged"), path=str(path))


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading only if it is a regular file, without reading from it.

    Opened non-blocking (a pipe with no writer would block the open itself), then
    checked on the open descriptor, so nothing can be swapped in between: /dev/zero
    would otherwise be read without end, and a pipe would hang the merge.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise not_a_file(path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    # Overlapping entries make a small archive expand many times over ("zip bomb").
    spans = sorted((info.header_offset, info.compress_size, info.filename) for info in infos)
    for (start, size, name), (next_start, _, _) in itertools.pairwise(spans):
        if start + size + 30 > next_start:
            raise _unsafe(name)
