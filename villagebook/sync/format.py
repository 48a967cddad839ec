"""The bundle format, version 1: names, limits, and the signed manifest.

A bundle is a zip archive. At its root, the sender's own *segment*:
`manifest.json` (canonical JSON), `manifest.minisig` (a minisign signature of
it) and `changes.jsonl` (one change set per line). Relayed segments of other
origins sit unmodified under `segments/<segment id>/` with the same three names.
The root manifest lists the hashes of every other member, so one signature
covers the whole archive. Evidence files travel as members `files/<sha256>` at the
root, whichever segment needs them: each segment's manifest lists the files its
change sets point at (`files`), and the root manifest lists the file members the
bundle carries (`carries`). See docs/SYNC.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from villagebook.i18n import N_
from villagebook.sync.errors import BundleRejected

FORMAT = "villagebook-bundle"
VERSION = 1
SUFFIX = ".vbundle"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.minisig"
PAYLOAD = "changes.jsonl"
SEGMENT_DIR = "segments/"
FILE_DIR = "files/"

#: Limits for reading untrusted archives (entries, sizes, compression ratio).
MAX_BUNDLE_BYTES = 4 << 30
#: Evidence files: at most this many in one bundle, each at most the per-file cap of
#: attachments (50 MB), together at most MAX_FILES_BYTES (a bundle still fits a FAT32 stick).
MAX_FILES = 10_000
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES_BYTES = 2 << 30
#: Members other than files (3 per segment), and file members, are capped apart.
MAX_ENTRIES = 3 * 5000 + 3
MAX_MANIFEST_BYTES = 8 << 20
MAX_SIGNATURE_BYTES = 4096
MAX_PAYLOAD_BYTES = 2 << 30
MAX_TOTAL_BYTES = 8 << 30
MAX_RATIO = 400
MAX_LINE_BYTES = 1 << 20
MAX_HANDOVER_TEXT = 1024

#: Bundle numbers: one limit for the manifest's `seq` and for the number in segment ids
#: and member names, so that whatever one accepts the other can name (a number the
#: manifest allowed but a member name did not once made every relaying bundle unreadable).
#: Far above any real count; the plausibility window (`villagebook.sync.numbers`) keeps
#: numbers near what each stream has reached.
SEQ_DIGITS = 18
MAX_SEQ = 10**SEQ_DIGITS - 1
#: JSON nesting deeper than this is refused before it is parsed (a real manifest or
#: change line nests four levels).
MAX_JSON_DEPTH = 32

# Patterns end in \Z, never $ (`$` also matches before a final newline, so "x\n" passed),
# and say [0-9], never \d (which also matches other scripts' digits, such as "٣").
_SEQ = rf"[1-9][0-9]{{0,{SEQ_DIGITS - 1}}}"
UNIT = re.compile(r"[0-9]{12}\Z")
KEY_ID = re.compile(r"[0-9A-F]{16}\Z")
DEVICE = re.compile(r"[0-9a-z]{1,64}\Z")
SHA256 = re.compile(r"[0-9a-f]{64}\Z")
SEGMENT_ID = re.compile(rf"[0-9A-F]{{16}}-[0-9]{{12}}-{_SEQ}\Z")
_NAMES = "manifest\\.json|manifest\\.minisig|changes\\.jsonl"
MEMBER = re.compile(
    rf"(?:({_NAMES})|segments/([0-9A-F]{{16}}-[0-9]{{12}}-{_SEQ})/({_NAMES})"
    r"|files/([0-9a-f]{64}))\Z")
ROLES = ("village", "township", "district")


def segment_id(key_id: str, receiver: str, seq: int) -> str:
    """A segment's id: who signed it, for whom, and its number in that stream."""
    return f"{key_id}-{receiver}-{seq}"


def stream_of(segment: str) -> tuple[str, int]:
    """(stream id `KEY>RECEIVER`, sequence number) of a segment id."""
    key_id, receiver, seq = segment.split("-")
    return f"{key_id}>{receiver}", int(seq)


def trusted_comment(origin: str, receiver: str, seq: int) -> str:
    """The signed one-line summary `minisign -V` shows."""
    return f"{FORMAT} {VERSION} from {origin} to {receiver} number {seq}"


@dataclass(frozen=True)
class Payload:
    """The signed description of a segment's change file."""

    size: int
    sha256: str
    sets: int
    changes: int


@dataclass(frozen=True)
class Relayed:
    """A relayed segment as the carrying manifest lists it (hashes of its 3 members)."""

    segment: str
    manifest_sha256: str
    signature_sha256: str
    payload_sha256: str


@dataclass(frozen=True)
class FileRef:
    """An evidence file a manifest names: its SHA-256 (its member name) and size."""

    sha256: str
    size: int

    @property
    def member(self) -> str:
        """The archive member that carries it."""
        return FILE_DIR + self.sha256


@dataclass(frozen=True)
class Enrolment:
    """A key vouched for by the sender: a unit under it, the sender's parent, or
    another device of a unit, with that unit's hand-over (see `sync.handover`)."""

    key: str
    unit: str
    parent: str | None
    role: str
    handover: str | None = None
    #: Optional (older readers ignore it): the key's age recipient and its signature
    #: over it (`age_keys.Binding.text`); believed only if that signature holds.
    recipient: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A segment the sender refused (optional `refused` list, since issue 16): the
    segment's origin learns that its bundle of that number did not arrive as sent."""

    segment: str
    manifest_sha256: str
    reason: str


@dataclass(frozen=True)
class Manifest:
    """A verified, parsed manifest."""

    origin: str
    role: str
    key_id: str
    device: str
    receiver: str
    seq: int
    created_at: str
    created_hlc: int
    payload: Payload
    relayed: tuple[Relayed, ...]
    enrolments: tuple[Enrolment, ...]
    revocations: tuple[str, ...]
    acks: dict[str, list[list[int]]]
    refused: tuple[Refusal, ...] = ()
    #: The files this segment's change sets point at (signed by its origin).
    files: tuple[FileRef, ...] = ()
    #: The file members this bundle carries (root manifest only; signed by the carrier).
    carries: tuple[FileRef, ...] = ()
    #: Optional `origin.recipient`: the signer's own recipient binding (how a node
    #: that trusted an older key file learns it; believed only if the key signed it).
    recipient: str | None = None

    @property
    def segment(self) -> str:
        """This manifest's segment id."""
        return segment_id(self.key_id, self.receiver, self.seq)


# A JSON escape of a UTF-16 surrogate (\uD800-\uDFFF). A lone one decodes to text that
# cannot be written as UTF-8 (nor stored by SQLite); a pair is a valid character.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def load_json(raw: bytes) -> Any:
    """Parse untrusted JSON: strict UTF-8, at most MAX_JSON_DEPTH levels deep, and only
    text that can be stored.

    Raises BundleRejected ("bad_encoding" or "bad_json") for anything else.
    """
    if too_deep(raw):
        raise _bad_json()
    try:
        data = json.loads(raw.decode("utf-8"))
        if _SURROGATE_ESCAPE.search(raw):  # rare: check the decoded text once more
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError:  # invalid UTF-8, or a lone surrogate escape
        raise BundleRejected("bad_encoding", N_("The bundle holds text that is not valid UTF-8")) \
            from None
    except (ValueError, RecursionError):  # RecursionError: a last guard, never expected
        raise _bad_json() from None
    return data


def _bad_json() -> BundleRejected:
    return BundleRejected("bad_json", N_("The bundle holds invalid JSON"))


# A JSON string (escapes included), and the brackets left once strings are gone.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]++")


def too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects more than `limit` levels deep.

    Counted without parsing (the parser recurses once per level, and a line of
    100,000 `[` overflows it): brackets inside strings do not count. Lines with
    few brackets, nearly all of them, cost one count.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw)):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def _bad(what: str) -> BundleRejected:
    return BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                          what=what)


def _get(data: dict[str, Any], key: str, kind: type,
         pattern: re.Pattern[str] | None = None) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _bad(key)
    if pattern is not None and not pattern.fullmatch(str(value)):
        raise _bad(key)
    return value


def _number(data: dict[str, Any], key: str) -> int:
    value = _get(data, key, int)
    if not 1 <= value <= MAX_SEQ:
        raise _bad(key)
    return int(value)


def _count(data: dict[str, Any], key: str) -> int:
    value = _get(data, key, int)
    if not 0 <= value < 1 << 62:
        raise _bad(key)
    return int(value)


def parse_manifest(data: object) -> Manifest:
    """Check a decoded manifest's shape; BundleRejected for anything unexpected."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad("format")
    version = data.get("version")
    if version != VERSION:
        if isinstance(version, int) and version > VERSION:
            raise BundleRejected("future_version", N_("The bundle uses format version {version}, "
                                 "newer than this VillageBook understands; please upgrade"),
                                 version=version)
        raise _bad("version")
    origin = _get(data, "origin", dict)
    payload = _get(data, "payload", dict)
    return Manifest(
        origin=_get(origin, "unit", str, UNIT),
        role=_role(_get(origin, "role", str)),
        key_id=_get(origin, "key_id", str, KEY_ID),
        device=_get(origin, "device", str, DEVICE),
        receiver=_get(data, "receiver", str, UNIT),
        seq=_number(data, "seq"),
        created_at=_get(data, "created_at", str)[:40],
        created_hlc=_count(data, "created_hlc"),
        payload=Payload(_count(payload, "size"), _get(payload, "sha256", str, SHA256),
                        _count(payload, "sets"), _count(payload, "changes")),
        relayed=tuple(_relayed(item) for item in _get(data, "relayed", list)),
        enrolments=tuple(_enrolment(item) for item in _get(data, "enrolments", list)),
        revocations=tuple(_revocation(item) for item in _get(data, "revocations", list)),
        acks=_acks(_get(data, "acks", dict)),
        refused=_refusals(data.get("refused", [])),
        files=_file_refs(data.get("files", []), "files"),
        carries=_carried(data.get("carries", [])),
        recipient=_recipient(origin),
    )


def _file_refs(items: object, key: str) -> tuple[FileRef, ...]:
    if not isinstance(items, list) or len(items) > MAX_FILES:
        raise _bad(key)
    found: dict[str, FileRef] = {}
    for item in items:
        if not isinstance(item, dict):
            raise _bad(key)
        ref = FileRef(_get(item, "sha256", str, SHA256), _count(item, "size"))
        if ref.size > MAX_FILE_BYTES:
            raise BundleRejected("too_large", N_("The bundle lists a file of {size} MB; a file "
                                 "may be at most {limit} MB"), size=ref.size // (1 << 20),
                                 limit=MAX_FILE_BYTES // (1 << 20))
        if ref.sha256 in found:
            raise _bad(key)  # a file listed twice
        found[ref.sha256] = ref
    return tuple(found.values())


def _carried(items: object) -> tuple[FileRef, ...]:
    carried = _file_refs(items, "carries")
    total = sum(ref.size for ref in carried)
    if total > MAX_FILES_BYTES:
        raise BundleRejected("too_large", N_("The bundle carries {size} MB of files; a bundle "
                             "may carry at most {limit} MB"), size=total // (1 << 20),
                             limit=MAX_FILES_BYTES // (1 << 20))
    return carried


def _role(value: str) -> str:
    if value not in ROLES:
        raise _bad("role")
    return value


def _relayed(item: object) -> Relayed:
    if not isinstance(item, dict):
        raise _bad("relayed")
    return Relayed(_get(item, "segment", str, SEGMENT_ID),
                   _get(item, "manifest_sha256", str, SHA256),
                   _get(item, "signature_sha256", str, SHA256),
                   _get(item, "payload_sha256", str, SHA256))


def _enrolment(item: object) -> Enrolment:
    if not isinstance(item, dict):
        raise _bad("enrolments")
    parent = item.get("parent")
    if parent is not None and not (isinstance(parent, str) and UNIT.fullmatch(parent)):
        raise _bad("enrolments")
    handover = item.get("handover")
    if handover is not None and not (isinstance(handover, str)
                                     and len(handover) <= MAX_HANDOVER_TEXT):
        raise _bad("enrolments")
    return Enrolment(_get(item, "key", str)[:200], _get(item, "unit", str, UNIT), parent,
                     _role(_get(item, "role", str)), handover, _recipient(item))


def _recipient(item: dict[str, Any]) -> str | None:
    """An optional recipient binding's text; one that is not text is ignored."""
    found = item.get("recipient")
    return found if isinstance(found, str) and len(found) <= MAX_HANDOVER_TEXT else None


def _revocation(item: object) -> str:
    if not isinstance(item, str) or not KEY_ID.fullmatch(item):
        raise _bad("revocations")
    return item


_STREAM = re.compile(r"[0-9A-F]{16}>[0-9]{12}\Z")


def _acks(data: dict[str, Any]) -> dict[str, list[list[int]]]:
    acks: dict[str, list[list[int]]] = {}
    for stream, ranges in data.items():
        if not _STREAM.fullmatch(stream) or not isinstance(ranges, list):
            raise _bad("acks")
        for pair in ranges:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(n, int) and not isinstance(n, bool) for n in pair)):
                raise _bad("acks")
        # A number out of range is dropped, not refused: an older node that merged a
        # segment numbered past MAX_SEQ acknowledges it honestly, and refusing its
        # bundles for that would let one bad segment block its carrier again.
        acks[stream] = [pair for pair in ranges if 1 <= pair[0] <= pair[1] <= MAX_SEQ]
    return acks


MAX_REFUSALS = 100


def _refusals(items: object) -> tuple[Refusal, ...]:
    if not isinstance(items, list) or len(items) > MAX_REFUSALS:
        raise _bad("refused")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad("refused")
        reason = _get(item, "reason", str)
        if not _REASON.fullmatch(reason):
            raise _bad("refused")
        found.append(Refusal(_get(item, "segment", str, SEGMENT_ID),
                             _get(item, "manifest_sha256", str, SHA256), reason))
    return tuple(found)


_REASON = re.compile(r"[a-z_]{1,40}\Z")


def to_ranges(numbers: list[int]) -> list[list[int]]:
    """Sorted numbers as closed ranges: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    ranges: list[list[int]] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    return ranges


def in_ranges(number: int, ranges: list[list[int]]) -> bool:
    """Whether `number` lies in one of the closed ranges."""
    return any(low <= number <= high for low, high in ranges)


def union_ranges(first: list[list[int]], second: list[list[int]]) -> list[list[int]]:
    """The union of two lists of closed ranges, merged and sorted."""
    merged: list[list[int]] = []
    for low, high in sorted([*first, *second]):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return merged
