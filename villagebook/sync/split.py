"""Splitting an export into parts no larger than `--max-size`, each a complete bundle.

Each part is an ordinary bundle with its own number, signed and encrypted as
usual, and mergeable on its own in any order. What makes that hold:

- a part carries every file its own change sets and relayed segments point at,
  unless the receiver holds it already (acknowledged a segment listing it); a
  file needed by two parts travels in both;
- a relayed segment (signed by its origin) is never cut: it goes whole into
  one part with its files;
- the domain's rules judge an honest history in any arrival order (a status
  whose predecessor has not arrived is judged where it has), so own change sets
  may be cut anywhere; they are taken in their local order, part after part.

Planning reads sizes only: the change sets' lines (uncompressed, an upper bound
of what deflate writes), the relayed members and the files. A part's written
size is checked against the limit afterwards, so the promise holds even if the
estimate of the fixed overhead (manifest, signature, zip directory, age
header) was short.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from villagebook.services.errors import Refused
from villagebook.sync import format as fmt

_MB = 1 << 20
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:I?B)?\s*", re.IGNORECASE)
#: What a part holds besides its members' bytes: manifest, signature, zip
#: directory, age header (each file adds its own entries below).
PART_OVERHEAD = 256 << 10
FILE_OVERHEAD = 512
#: age adds 16 bytes to every 64 KiB chunk.
_AGE_FACTOR = 1 + 16 / 65536
#: The parts the app writes when an export is more than one bundle may carry.
APP_PART_SIZE = 1 << 30
#: The smallest limit accepted: a part must hold its overhead and some records.
MIN_MAX_SIZE = 1 << 20


def parse_size(text: str) -> int:
    """Bytes of a size such as `200M`, `1.5G`, `800K` or `1048576`; Refused if not one."""
    found = _SIZE.fullmatch(text)
    if found is None:
        raise Refused("{value} is not a size; write it like 200M, 1G or 800K", value=text)
    size = int(float(found.group(1)) * _UNITS[found.group(2).upper()])
    if size < MIN_MAX_SIZE:
        raise Refused("--max-size {value} is too small; a part needs at least 1M",
                      value=text)
    return size


def estimate(content: int, files: int) -> int:
    """The size on the stick of a part of `content` bytes holding `files` files."""
    return int((content + FILE_OVERHEAD * files) * _AGE_FACTOR) + PART_OVERHEAD


@dataclass(frozen=True)
class Line:
    """One own change set as planned: its position, size and the file it points at."""

    index: int
    size: int
    sha256: str | None


@dataclass(frozen=True)
class Segment:
    """A relayed segment as planned: its row, the size of its members, its files."""

    row: tuple[str, str, str]
    size: int
    files: tuple[fmt.FileRef, ...]


@dataclass
class Part:
    """What one part holds: own change sets (by index), relayed segments, files."""

    lines: set[int] = field(default_factory=set)
    relayed: list[tuple[str, str, str]] = field(default_factory=list)
    carries: dict[str, fmt.FileRef] = field(default_factory=dict)
    content: int = 0
    #: The bytes of `carries` (part of `content`).
    file_bytes: int = 0

    def size(self) -> int:
        """The part's estimated size on the stick."""
        return estimate(self.content, len(self.carries))

    def empty(self) -> bool:
        """Whether nothing was placed in it yet."""
        return not self.lines and not self.relayed


class Planner:
    """Fill parts in order under `limit` bytes; `carry` holds the files the receiver
    lacks (the others need no carrying), `sizes` every own file's size."""

    def __init__(self, limit: int, carry: set[str], sizes: dict[str, int]) -> None:
        self.limit = limit
        self.carry = carry
        self.sizes = sizes
        self.parts = [Part()]

    def _place(self, cost: int, needs: list[fmt.FileRef], what: str) -> Part:
        part = self.parts[-1]
        if not self._fits(part, cost, needs):
            if part.empty() or not self._fits(Part(), cost, needs):
                raise _too_big(what, cost + sum(r.size for r in needs), self.limit)
            part = Part()
            self.parts.append(part)
        for ref in needs:
            if ref.sha256 not in part.carries:
                part.carries[ref.sha256] = ref
                part.content += ref.size
                part.file_bytes += ref.size
        part.content += cost
        return part

    def _fits(self, part: Part, cost: int, needs: list[fmt.FileRef]) -> bool:
        new = {r.sha256: r.size for r in needs if r.sha256 not in part.carries}
        count, added = len(part.carries) + len(new), sum(new.values())
        if part.file_bytes + added > fmt.MAX_FILES_BYTES or count > fmt.MAX_FILES:
            return False
        return estimate(part.content + cost + added, count) <= self.limit

    def add_line(self, line: Line) -> None:
        """Place one own change set (with its file, unless the receiver holds it)."""
        needs = []
        if line.sha256 is not None and line.sha256 in self.carry:
            needs = [fmt.FileRef(line.sha256, self.sizes[line.sha256])]
        what = needs[0].member if needs else ""
        self._place(line.size, needs, what).lines.add(line.index)

    def add_segment(self, segment: Segment) -> None:
        """Place one relayed segment whole, with the files it lists that need carrying."""
        needs = [ref for ref in segment.files if ref.sha256 in self.carry]
        self._place(segment.size, needs, segment.row[0]).relayed.append(segment.row)


def plan(limit: int, lines: Iterable[Line], segments: Iterable[Segment],
         carry: set[str], sizes: dict[str, int]) -> list[Part]:
    """The parts of an export: own change sets in order, then relayed segments."""
    planner = Planner(limit, carry, sizes)
    for line in lines:
        planner.add_line(line)
    for segment in segments:
        planner.add_segment(segment)
    return planner.parts


def _too_big(what: str, size: int, limit: int) -> Refused:
    """`what`: a file (`files/<sha256>`), a relayed segment's id, or "" for a record."""
    mb, most = max(1, -(-size // _MB)), limit // _MB
    if what.startswith(fmt.FILE_DIR):
        return Refused("File {sha256} is {size} MB, more than one part of --max-size {limit} "
                       "MB may hold; no bundle was written. Use a larger --max-size",
                       sha256=what.removeprefix(fmt.FILE_DIR), size=mb, limit=most)
    if what:
        return Refused("Segment {segment} (relayed, with its files) is {size} MB, more than "
                       "one part of --max-size {limit} MB may hold; no bundle was written. "
                       "Use a larger --max-size", segment=what, size=mb, limit=most)
    return Refused("A change record of {size} MB is more than one part of --max-size "
                   "{limit} MB may hold; no bundle was written. Use a larger --max-size",
                   size=mb, limit=most)


def part_too_large(size: int, limit: int) -> Refused:
    """The refusal for a written part larger than the limit (the estimate was short)."""
    return Refused("A part came out at {size} MB, more than --max-size {limit} MB; no "
                   "bundle was written. Use a larger --max-size",
                   size=max(1, -(-size // _MB)), limit=limit // _MB)
