"""The hostile bundle corpus, widened: every kind the threat model in docs/SYNC.md
names and the older hostile tests left out. Each hostile bundle is refused on the
command line (exit 1, its stable reason code, `dump` and every table unchanged), or
refused alone as a relayed segment while the rest of its carrier merges, or taken
exactly as the pristine bundle would be where that is right. docs/SYNC.md's
"Hostile corpus" table lists every kind with its reason and its test."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, Result, run_cli
from tests.pilot import Harness, settle
from tests.sync_helpers import (
    CASE,
    VILLAGE2,
    Nodes,
    change_line,
    forge,
    send,
    state,
    three_nodes,
)
from tests.test_sync_hostile import rewrite
from villagebook.domain.enums import ReviewDecision
from villagebook.screens.conflicts_screen import ConflictsScreen
from villagebook.screens.keys_screen import KeysScreen
from villagebook.screens.sync_screen import SyncScreen
from villagebook.services import cases
from villagebook.services.records import write_changes
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync.identity import load_secret_key
from villagebook.sync.merge import merge_file
from villagebook.sync.minisign import sign
from villagebook.sync.trust import own_key

RECORD = "0199aaaa-0000-7000-8000-0000000000e1"
HLC = 1_790_000_000_000 << 16


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with three_nodes(tmp_path) as found:
        cases.create_case(found.village, CASE)
        yield found


def case_line(store: Store, unit: str = VILLAGE[0], record: str = RECORD,
              **fields: object) -> bytes:
    """A change set creating one case, signed later by whoever forges the bundle."""
    values = {"unit_code": unit, "title": "村民议事会", "lead_person": "某人",
              "direction": "process", **fields}
    return change_line(entity="case", record=record, hlc=HLC, device=store.node.device_id,
                       unit=unit, fields=values)


def dump(store: Store) -> str:
    """What `villagebook dump` prints for this node."""
    return run_cli(store.home, "dump", check=True).out


def rejected(store: Store, bundle: Path, reason: str) -> dict[str, Any]:
    """`merge --json` refuses `bundle` with `reason`: exit 1, no traceback, and
    neither `dump` nor any table changed. The bundle's entry, for more checks."""
    before, shown = state(store), dump(store)
    result = run_cli(store.home, "merge", "--json", str(bundle))
    assert result.code == 1, result
    assert "Traceback" not in result.err
    [found] = result.json()["bundles"]
    assert (found["status"], found["reason"]) == ("rejected", reason), found
    assert state(store) == before and dump(store) == shown
    return dict(found)


def segment_refused(store: Store, bundle: Path, reason: str) -> dict[str, Any]:
    """`merge --json` merges the carrier but refuses one relayed segment alone with
    `reason` (exit 1, named on the way); the bundle's entry."""
    result = run_cli(store.home, "merge", "--json", str(bundle))
    assert result.code == 1, result
    assert "Traceback" not in result.err
    [found] = result.json()["bundles"]
    assert found["status"] == "merged", found
    [refusal] = found["refused_segments"]
    assert refusal["reason"] == reason, refusal
    return dict(found)


def members_of(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


# --- keys and signatures ---------------------------------------------------------


def test_a_replay_of_a_merged_bundle_after_its_key_was_revoked_is_refused(
        nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick")
    assert merge_file(nodes.township, bundle).status == "merged"
    assert run_cli(nodes.township.home, "keys", "revoke", own_key(nodes.village).key_id).code == 0
    found = rejected(nodes.township, bundle, "revoked_key")
    assert own_key(nodes.village).key_id in found["message"]
    assert CASE["title"] in dump(nodes.township)  # what it signed before stays


def test_a_trusted_comment_that_disagrees_with_the_manifest_is_refused(
        nodes: Nodes, tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "a.vbundle", case_line(nodes.village), seq=2)
    members = members_of(bundle)
    other = sign(load_secret_key(nodes.village.home), members[fmt.MANIFEST],
                 fmt.trusted_comment(VILLAGE[0], TOWNSHIP[0], 1))
    swapped = rewrite(bundle, tmp_path / "comment.vbundle", {fmt.SIGNATURE: other.encode()})
    rejected(nodes.township, swapped, "bad_manifest")


def test_a_legacy_signature_over_the_raw_manifest_is_refused(nodes: Nodes,
                                                             tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "a.vbundle", case_line(nodes.village))
    lines = members_of(bundle)[fmt.SIGNATURE].decode().splitlines()

    raw = bytearray(base64.b64decode(lines[1]))
    raw[0:2] = b"Ed"  # the legacy algorithm: signs the raw file, not its BLAKE2b digest
    lines[1] = base64.b64encode(bytes(raw)).decode()
    legacy = rewrite(bundle, tmp_path / "legacy.vbundle",
                     {fmt.SIGNATURE: ("\n".join(lines) + "\n").encode()})
    rejected(nodes.township, legacy, "bad_signature")


# --- the archive ---------------------------------------------------------------


def test_an_empty_file_and_a_file_that_is_no_zip_are_refused(nodes: Nodes,
                                                            tmp_path: Path) -> None:
    empty = tmp_path / "empty.vbundle"
    empty.write_bytes(b"")
    rejected(nodes.township, empty, "damaged")
    picture = tmp_path / "photo.vbundle"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    rejected(nodes.township, picture, "damaged")


def test_a_hundred_thousand_tiny_members_are_refused_unread(nodes: Nodes,
                                                           tmp_path: Path) -> None:
    crowd = tmp_path / "crowd.vbundle"
    with zipfile.ZipFile(crowd, "w") as zf:
        info = zipfile.ZipInfo("x")
        for number in range(100_000):
            info.filename = f"segments/0000000000000000-320117100000-{number + 1}/changes.jsonl"
            zf.writestr(info, b"")
    found = rejected(nodes.township, crowd, "too_large")
    assert "entries" in found["message"] or "safety limit" in found["message"]


def _patched_name(source: Path, target: Path, placeholder: bytes, name: bytes) -> Path:
    """Copy a bundle adding one member whose name holds bytes zipfile cannot write
    (a NUL): written under a placeholder of the same length, then patched."""
    assert len(placeholder) == len(name)
    rewrite(source, target, {placeholder.decode(): b"x"})
    target.write_bytes(target.read_bytes().replace(placeholder, name))
    return target


@pytest.mark.parametrize("name", [
    "segments\\0000000000000000-320117100000-1\\changes.jsonl",  # Windows separators
    "..\\..\\Windows\\evil.dll",
    "C:/changes.jsonl", "C:changes.jsonl", "c:\\Users\\x\\changes.jsonl",  # drive letters
    "//server/share/changes.jsonl",  # a UNC path
    "changes.jsonl:hidden",  # an NTFS alternate data stream
    "changes.jsonl.", "changes.jsonl ",  # names Windows trims to a listed one
    "CON", "segments/AUX/changes.jsonl",  # device names
    "changes.js\u043enl",  # a Cyrillic o
    "manifest.json\u200b",  # a zero-width space
])
def test_member_names_for_other_file_systems_are_refused(nodes: Nodes, tmp_path: Path,
                                                         name: str) -> None:
    bundle = send(nodes.village, tmp_path / "stick")
    rejected(nodes.township, rewrite(bundle, tmp_path / "odd.vbundle", {name: b"x"}),
             "bad_member")


def test_a_member_name_with_a_nul_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    # Readers cut a name at its NUL: "changes.jsonl\0/../../evil" reads as a second
    # "changes.jsonl", and a tool that does not cut it writes elsewhere.
    bundle = send(nodes.village, tmp_path / "stick")
    odd = _patched_name(bundle, tmp_path / "nul.vbundle", b"changes.jsonlX/../../evil",
                        b"changes.jsonl\x00/../../evil")
    rejected(nodes.township, odd, "bad_member")
    alone = _patched_name(bundle, tmp_path / "nul2.vbundle", b"notes.txtX", b"notes.txt\x00")
    rejected(nodes.township, alone, "bad_member")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_member_compressed_another_way_is_refused(nodes: Nodes, tmp_path: Path,
                                                    method: int) -> None:
    bundle = send(nodes.village, tmp_path / "stick")
    other = tmp_path / "method.vbundle"
    with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(other, "w") as new:
        for name in old.namelist():
            new.writestr(name, old.read(name),
                         compress_type=method if name == fmt.PAYLOAD else zipfile.ZIP_STORED)
    rejected(nodes.township, other, "bad_member")


def test_an_encrypted_member_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick")
    raw = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        infos = {info.filename: info for info in zf.infolist()}
    payload = infos[fmt.PAYLOAD]
    raw[payload.header_offset + 6] |= 1  # the local header's "encrypted" flag
    central = raw.find(b"PK\x01\x02", 0)
    while central >= 0:  # and the central directory's, for the payload only
        length = int.from_bytes(raw[central + 28:central + 30], "little")
        if raw[central + 46:central + 46 + length] == fmt.PAYLOAD.encode():
            raw[central + 8] |= 1
        central = raw.find(b"PK\x01\x02", central + 4)
    locked = tmp_path / "locked.vbundle"
    locked.write_bytes(bytes(raw))
    rejected(nodes.township, locked, "bad_member")


# --- the manifest --------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {"seq": 0}, {"seq": -1}, {"seq": "1"}, {"seq": 10 ** 18}, {"seq": 1.5},
    {"receiver": ["320117100000"]}, {"origin": "320117100201"},
    {"format": "zip"}, {"relayed": {}}, {"acks": []},
    {"payload": {"name": "../changes.jsonl"}},
], ids=lambda value: json.dumps(value, ensure_ascii=False))
def test_a_signed_manifest_of_the_wrong_shape_is_refused(nodes: Nodes, tmp_path: Path,
                                                         overrides: dict[str, Any]) -> None:
    bundle = forge(nodes.village, tmp_path / "shape.vbundle", case_line(nodes.village),
                   overrides=overrides)
    rejected(nodes.township, bundle, "bad_manifest")


def test_a_manifest_that_is_not_an_object_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    raw = b'["villagebook-bundle", 1]'
    signature = sign(load_secret_key(nodes.village.home), raw,
                     fmt.trusted_comment(VILLAGE[0], TOWNSHIP[0], 1))
    bundle = tmp_path / "list.vbundle"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr(fmt.MANIFEST, raw)
        zf.writestr(fmt.SIGNATURE, signature)
        zf.writestr(fmt.PAYLOAD, b"")
    rejected(nodes.township, bundle, "bad_manifest")


@pytest.mark.parametrize("counts", [{"sets": 2}, {"changes": 1}, {"sets": 0, "changes": 0}])
def test_payload_counts_that_lie_are_refused(nodes: Nodes, tmp_path: Path,
                                            counts: dict[str, int]) -> None:
    bundle = forge(nodes.village, tmp_path / "counts.vbundle", case_line(nodes.village),
                   **counts)
    rejected(nodes.township, bundle, "bad_manifest")


def test_a_payload_size_that_lies_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    line = case_line(nodes.village)
    bundle = forge(nodes.village, tmp_path / "size.vbundle", line, overrides={"payload": {
        "name": fmt.PAYLOAD, "size": len(line) - 1, "sha256": hashlib.sha256(line).hexdigest(),
        "sets": 1, "changes": 4}})
    rejected(nodes.township, bundle, "hash_mismatch")


# --- change sets -----------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"hlc": 0}, {"hlc": -5}, {"hlc": 1 << 80}, {"hlc": "1"}, {"hlc": True},
    {"entity": "sync_key"}, {"entity": "../case"}, {"record": ""}, {"record": "x" * 5000},
    {"device": None}, {"fields": []}, {"fields": {"no_such_field": "x"}},
    {"replaces": {"title": "not a list"}},
], ids=lambda value: json.dumps(value, ensure_ascii=False)[:40])
def test_a_change_set_of_the_wrong_shape_is_refused(nodes: Nodes, tmp_path: Path,
                                                   change: dict[str, Any]) -> None:
    line = json.loads(case_line(nodes.village))
    line.update(change)
    bundle = forge(nodes.village, tmp_path / "change.vbundle", change_line(**line), sets=1,
                   changes=len(line["fields"]) if isinstance(line["fields"], dict) else 0)
    rejected(nodes.township, bundle, "bad_change")


def test_a_tombstone_of_another_villages_record_is_refused(nodes: Nodes,
                                                           tmp_path: Path) -> None:
    line = change_line(entity="case", record=RECORD, hlc=HLC, device=nodes.village.node.device_id,
                       unit=VILLAGE2[0], fields={"_deleted": True})
    rejected(nodes.township, forge(nodes.village, tmp_path / "tomb.vbundle", line),
             "unauthorised")


def test_a_village_writing_a_township_review_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    case_id = nodes.village.conn.execute("SELECT id FROM innovation_case").fetchone()[0]
    merge_file(nodes.township, send(nodes.village, tmp_path / "up"))
    line = change_line(entity="case", record=case_id, hlc=HLC,
                       device=nodes.village.node.device_id, unit=VILLAGE[0],
                       fields={"status": "approved"})
    rejected(nodes.township, forge(nodes.village, tmp_path / "self.vbundle", line, seq=2),
             "unauthorised")




# --- relayed segments ----------------------------------------------------------

Members = dict[str, bytes]


def village_segment(village: Store, seq: int, payload: bytes) -> tuple[str, Members]:
    """A village's signed bundle to the township, as the three members a township
    relays byte for byte, with its segment id."""
    path = forge(village, village.home / f"seg-{seq}.vbundle", payload, seq=seq)
    parts = members_of(path)
    return (fmt.segment_id(own_key(village).key_id, TOWNSHIP[0], seq),
            {name: parts[name] for name in (fmt.MANIFEST, fmt.SIGNATURE, fmt.PAYLOAD)})


def listing(segment: str, parts: Members) -> dict[str, str]:
    """The carrier manifest's entry for one relayed segment."""
    return {"segment": segment, **{
        field: hashlib.sha256(parts[name]).hexdigest() for field, name in (
            ("manifest_sha256", fmt.MANIFEST), ("signature_sha256", fmt.SIGNATURE),
            ("payload_sha256", fmt.PAYLOAD))}}


def carrier(township: Store, path: Path, segments: list[tuple[str, Members]], *,
            seq: int = 1, listed: list[dict[str, str]] | None = None,
            enrolments: list[dict[str, str]] | None = None) -> Path:
    """A township bundle to the district relaying `segments` (the township signs
    its own manifest honestly; what it relays is whatever the test gives)."""
    village_keys = [k for (k,) in township.conn.execute(
        "SELECT public_key FROM sync_key WHERE unit_code = ?", (VILLAGE[0],))]
    if enrolments is None:
        enrolments = [{"key": k, "unit": VILLAGE[0], "parent": TOWNSHIP[0], "role": "village"}
                      for k in village_keys]
    extra = {f"{fmt.SEGMENT_DIR}{segment}/{name}": data
             for segment, parts in segments for name, data in parts.items()}
    return forge(township, path, b"", receiver=DISTRICT[0], seq=seq, sets=0, changes=0,
                 overrides={"relayed": listed if listed is not None else
                            [listing(s, p) for s, p in segments],
                            "enrolments": enrolments}, extra=extra)


def district_titles(store: Store) -> set[str]:
    return {row[0] for row in store.conn.execute("SELECT title FROM innovation_case")}


def test_a_pristine_relayed_segment_merges_at_the_district(nodes: Nodes,
                                                           tmp_path: Path) -> None:
    segment = village_segment(nodes.village, 1, case_line(nodes.village))
    result = run_cli(nodes.district.home, "merge", "--json",
                     str(carrier(nodes.township, tmp_path / "c.vbundle", [segment])))
    assert result.code == 0, result
    assert district_titles(nodes.district) == {"村民议事会"}


def test_a_township_re_signing_a_village_segment_with_its_own_key_is_refused_alone(
        nodes: Nodes, tmp_path: Path) -> None:
    segment, parts = village_segment(nodes.village, 1, case_line(nodes.village))
    parts[fmt.SIGNATURE] = sign(load_secret_key(nodes.township.home), parts[fmt.MANIFEST],
                                fmt.trusted_comment(VILLAGE[0], TOWNSHIP[0], 1)).encode()
    bundle = carrier(nodes.township, tmp_path / "c.vbundle", [(segment, parts)])
    found = segment_refused(nodes.district, bundle, "wrong_origin")
    assert found["refused_segments"][0]["segment"] == segment
    assert district_titles(nodes.district) == set()


def test_a_township_altering_a_village_segments_manifest_is_refused_alone(
        nodes: Nodes, tmp_path: Path) -> None:
    segment, parts = village_segment(nodes.village, 1, case_line(nodes.village))
    altered = case_line(nodes.village, title="镇里改过的标题")
    manifest = json.loads(parts[fmt.MANIFEST])
    manifest["payload"].update(size=len(altered), sha256=hashlib.sha256(altered).hexdigest())
    parts.update({fmt.MANIFEST: json.dumps(manifest, ensure_ascii=False).encode(),
                  fmt.PAYLOAD: altered})
    bundle = carrier(nodes.township, tmp_path / "c.vbundle", [(segment, parts)])
    segment_refused(nodes.district, bundle, "bad_signature")
    assert district_titles(nodes.district) == set()


def test_a_carrier_listing_a_segment_that_is_not_the_one_it_carries_is_refused(
        nodes: Nodes, tmp_path: Path) -> None:
    # The township relays the village's bundle 2 under the id of bundle 1.
    first = village_segment(nodes.village, 1, case_line(nodes.village))
    _, second = village_segment(nodes.village, 2, case_line(nodes.village, title="第二份"))
    bundle = carrier(nodes.township, tmp_path / "c.vbundle", [(first[0], second)])
    # An honest carrier copies segments byte for byte: the carrier's own doing.
    rejected(nodes.district, bundle, "hash_mismatch")
    assert district_titles(nodes.district) == set()


def test_a_trusted_village_writing_its_neighbours_case_inside_a_relayed_segment(
        nodes: Nodes, tmp_path: Path) -> None:
    own = village_segment(nodes.village, 1, case_line(nodes.village))
    theirs = village_segment(nodes.village, 2, case_line(
        nodes.village, VILLAGE2[0], record="0199aaaa-0000-7000-8000-0000000000e2",
        title="写进邻村的案例"))
    bundle = carrier(nodes.township, tmp_path / "c.vbundle", [own, theirs])
    found = segment_refused(nodes.district, bundle, "unauthorised")
    assert found["refused_segments"][0]["segment"] == theirs[0]
    assert district_titles(nodes.district) == {"村民议事会"}  # the honest segment merged


def test_a_segment_id_colliding_with_one_already_held_is_refused_alone(
        nodes: Nodes, tmp_path: Path) -> None:
    honest = village_segment(nodes.village, 1, case_line(nodes.village))
    assert run_cli(nodes.district.home, "merge", str(
        carrier(nodes.township, tmp_path / "c1.vbundle", [honest]))).code == 0
    # Another segment of the same village under the same id (a village restored
    # from an old copy, or a township swapping the content): never "already merged".
    path = forge(nodes.village, tmp_path / "again.vbundle",
                 case_line(nodes.village, record="0199aaaa-0000-7000-8000-0000000000e3",
                           title="同号不同内容"), overrides={"created_hlc": 2})
    parts = {name: data for name, data in members_of(path).items()}
    bundle = carrier(nodes.township, tmp_path / "c2.vbundle", [(honest[0], parts)], seq=2)
    segment_refused(nodes.district, bundle, "reused_number")
    assert district_titles(nodes.district) == {"村民议事会"}


def test_a_carrier_listing_one_segment_twice_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    segment = village_segment(nodes.village, 1, case_line(nodes.village))
    entry = listing(*segment)
    bundle = carrier(nodes.township, tmp_path / "c.vbundle", [segment], listed=[entry, entry])
    rejected(nodes.district, bundle, "bad_manifest")


def test_a_relayed_segment_signed_before_its_key_was_revoked_is_refused_alone(
        nodes: Nodes, tmp_path: Path) -> None:
    first = village_segment(nodes.village, 1, case_line(nodes.village))
    assert run_cli(nodes.district.home, "merge", str(
        carrier(nodes.township, tmp_path / "c1.vbundle", [first]))).code == 0
    # Signed while the key was good, carried after the district revoked it (a leaked
    # key could backdate, so the signing time is not believed: a known limit).
    second = village_segment(nodes.village, 2, case_line(
        nodes.village, record="0199aaaa-0000-7000-8000-0000000000e4", title="吊销前签的"))
    bundle = carrier(nodes.township, tmp_path / "c2.vbundle", [second], seq=2)
    assert run_cli(nodes.district.home, "keys", "revoke",
                   own_key(nodes.village).key_id).code == 0
    segment_refused(nodes.district, bundle, "revoked_key")
    assert district_titles(nodes.district) == {"村民议事会"}


def _key_row(store: Store, key_id: str) -> tuple[str, str, str]:
    row = store.conn.execute("SELECT unit_code, parent_code, role FROM sync_key "
                             "WHERE key_id = ?", (key_id,)).fetchone()
    return (row[0], row[1], row[2])


def test_an_enrolment_moving_a_village_under_another_parent_moves_nothing(
        nodes: Nodes, tmp_path: Path) -> None:
    assert run_cli(nodes.district.home, "merge", str(carrier(
        nodes.township, tmp_path / "c1.vbundle", [village_segment(
            nodes.village, 1, case_line(nodes.village))]))).code == 0
    key = own_key(nodes.village).key_id
    public = nodes.township.conn.execute("SELECT public_key FROM sync_key WHERE key_id = ?",
                                         (key,)).fetchone()[0]
    placed = _key_row(nodes.district, key)
    assert placed == (VILLAGE[0], TOWNSHIP[0], "village")
    # Under another township, or raised to a township: not the sender's to say
    # (only units under it), so ignored; the village stays where it is.
    for seq, (parent, role) in enumerate((("320117200000", "village"),
                                          (DISTRICT[0], "township")), start=2):
        moved = [{"key": public, "unit": VILLAGE[0], "parent": parent, "role": role}]
        bundle = carrier(nodes.township, tmp_path / f"move-{seq}.vbundle", [], seq=seq,
                         enrolments=moved)
        assert run_cli(nodes.district.home, "merge", str(bundle)).code == 0
        assert _key_row(nodes.district, key) == placed
    # The same key for another village under the township: refused by name.
    other = [{"key": public, "unit": VILLAGE2[0], "parent": TOWNSHIP[0], "role": "village"}]
    rejected(nodes.district, carrier(nodes.township, tmp_path / "other.vbundle", [], seq=4,
                                     enrolments=other), "conflicting_key")


# --- clocks ten years off ------------------------------------------------------

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
TEN_YEARS = 3653


def at(days: float) -> dict[str, str]:
    """The CLI's wall clock pinned `days` from now (VILLAGEBOOK_NOW)."""
    return {"VILLAGEBOOK_NOW": (NOW + dt.timedelta(days=days)).isoformat()}


def wall(days: float) -> Callable[[], int]:
    ms = int((NOW + dt.timedelta(days=days)).timestamp() * 1000)
    return lambda: ms


def merged_at(home: Path, bundle: Path, days: float) -> dict[str, Any]:
    result = run_cli(home, "merge", "--json", str(bundle), env=at(days))
    assert result.code == 0, result
    report: dict[str, Any] = result.json()["bundles"][0]
    assert report["status"] == "merged", report
    return report


def case_of(home: Path, record: str, days: float = 0) -> dict[str, Any]:
    found = run_cli(home, "dump", "--json", env=at(days), check=True).json()["cases"]
    return next(dict(case) for case in found if case["id"] == record)


def test_a_village_ten_years_behind_is_applied_at_once_and_its_later_edit_wins(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        village, township = n.village.home, n.township.home
    with Store(village, wall_ms=wall(-TEN_YEARS)) as behind:
        record = cases.create_case(behind, CASE)
    stick = tmp_path / "stick"
    with Store(village, wall_ms=wall(-TEN_YEARS)) as behind:
        first = send(behind, stick / "1")
    # Dated in the past is nothing to hold aside: the township applies it at once.
    assert merged_at(township, first, 0)["held_aside"] == []
    assert case_of(township, record)["title"] == CASE["title"]
    # The village edits again, its clock still ten years behind the township's: the
    # edit names the change it overwrites, so it wins whatever the timestamps say.
    with Store(village, wall_ms=wall(-TEN_YEARS + 1)) as behind:
        cases.update_case(behind, record, {"title": "十年前的钟也能改标题"})
        cases.submit_case(behind, record)
        second = send(behind, stick / "2")
    report = merged_at(township, second, 0)
    assert report["held_aside"] == [] and report["conflicts"] == 0
    found = case_of(township, record)
    assert (found["title"], found["status"]) == ("十年前的钟也能改标题", "submitted")
    # The township's approval is ten years ahead of the village's clock: held aside
    # there (not refused, not applied), and applied once the clock is right.
    with Store(township) as office:
        cases.review_case(office, record, ReviewDecision.APPROVE, "可以推广", "李镇长")
        down = send(office, stick / "down", VILLAGE[0])
    report = merged_at(village, down, -TEN_YEARS + 2)
    assert [h["origin"] for h in report["held_aside"]] == [TOWNSHIP[0]]
    assert case_of(village, record, -TEN_YEARS + 2)["status"] == "submitted"
    with Store(township) as office:
        again = send(office, stick / "down2", VILLAGE[0])
    report = merged_at(village, again, 0)
    assert report["released"] > 0 and report["conflicts"] == 0
    assert case_of(village, record)["status"] == "approved"
    assert run_cli(village, "conflicts", "--json", env=at(0)).json() == []


@pytest.mark.parametrize("years", [-10, 10])
def test_a_change_set_dated_ten_years_off_is_never_refused_for_its_date(
        nodes: Nodes, tmp_path: Path, years: int) -> None:
    ms = int((NOW + dt.timedelta(days=365.25 * years)).timestamp() * 1000)
    line = json.loads(case_line(nodes.village))
    line["hlc"] = ms << 16
    bundle = forge(nodes.village, tmp_path / "dated.vbundle", change_line(**line))
    report = merged_at(nodes.township.home, bundle, 0)
    held = [h["sets"] for h in report["held_aside"]]
    titles = district_titles(nodes.township)
    if years > 0:  # held aside, applied in ten years' time
        assert held == [1] and titles == set()
    else:  # applied now, as the pristine bundle would be
        assert held == [] and titles == {"村民议事会"}


# --- hostile text shown by every output ------------------------------------------

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # "copy this to the clipboard"
LINK = "[link=file:///etc/passwd]点我[/link]"
TITLE = f"{OSC52}剪贴板\x1b[2J{LINK}"
UNIT_NAME = "\x1b]52;c;aGk=\x07[link=file:///etc/passwd]村"  # 38 characters: within 40
PROBLEM_ID = "0199aaaa-0000-7000-8000-0000000000f1"
ATTACHMENT_ID = "0bcf9752-61f5-55cd-9d0d-579508816399"
BAD_NAME = "\x1b]52;c;aGk=\x07\x1b[2J[red]x[blink].vbundle"  # no "/" in a file name
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Shown:
    """A township that merged a village's hostile text, and the bundles for more."""

    township: Path
    village: Path
    district: Path
    case_id: str
    future: Path
    renamed: Path


def _hostile_lines(village: Store, case_id: str) -> bytes:
    """A problem with the hostile title and a concurrent second title (a conflict),
    and an attachment whose name and caption carry escapes and markup."""
    device, unit = village.node.device_id, VILLAGE[0]
    problem = {"unit_code": unit, "title": TITLE, "category": "other", "source": "visit",
               "urgency": "low", "reported_date": "2026-05-01"}
    attachment = {"unit_code": unit, "record_kind": "case", "record_id": case_id,
                  "caption": TITLE, "kind": "photo", "name": f"../../.bashrc{OSC52}{LINK}",
                  "size": 10, "sha256": "ab" * 32, "attached_by": LINK,
                  "attached_at": "2026-11-01T10:00:00+00:00"}
    return b"".join((
        change_line(entity="problem", record=PROBLEM_ID, hlc=HLC, device=device, unit=unit,
                    fields=problem),
        change_line(entity="problem", record=PROBLEM_ID, hlc=HLC + 7, device=device, unit=unit,
                    fields={"title": f"另一个{LINK}"}),
        change_line(entity="attachment", record=ATTACHMENT_ID, hlc=HLC + 9, device=device,
                    unit=unit, fields=attachment)))


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shown]:
    root = tmp_path_factory.mktemp("shown")
    with three_nodes(root) as n:
        case_id = cases.create_case(n.village, {**CASE, "title": TITLE, "lead_person": LINK,
                                                "results": TITLE * 76})  # near the 5000 cap
        write_changes(n.village, "unit", VILLAGE[0], VILLAGE[0], {"name": UNIT_NAME})
        cases.submit_case(n.village, case_id)
        judged = cases.create_case(n.village, {**CASE, "title": f"已批准{TITLE}"})
        cases.submit_case(n.village, judged)
        assert merge_file(n.township, send(n.village, root / "up")).status == "merged"
        assert cases.get_case(n.township, case_id)["results"] == TITLE * 76
        cases.review_case(n.township, judged, ReviewDecision.APPROVE, TITLE, LINK)
        hostile = forge(n.village, root / "h.vbundle", _hostile_lines(n.village, case_id),
                        seq=2)
        assert merge_file(n.township, hostile).status == "merged"
        future = json.loads(case_line(n.village, record="0199aaaa-0000-7000-8000-0000000000f2"))
        future["hlc"] = int((NOW + dt.timedelta(days=TEN_YEARS)).timestamp() * 1000) << 16
        ahead = forge(n.village, root / "ahead.vbundle", change_line(**future), seq=3)
        renamed = root / BAD_NAME
        send(n.village, root / "plain").rename(renamed)
        assert merge_file(n.district, send(n.township, root / "relay")).status == "merged"
        yield Shown(n.township.home, n.village.home, n.district.home, case_id, ahead, renamed)


def harmless(result: Result, *literal: str) -> None:
    """Exit 0, nothing on stdout or stderr a terminal would act on, and each
    `literal` shown as it was written (markup uninterpreted)."""
    assert "Traceback" not in result.err
    text = result.out + result.err
    assert not UNSAFE.search(text), repr(text[:400])
    for piece in literal:
        assert piece in text, (piece, text[:400])


@pytest.mark.parametrize("command", [
    ("search", "剪贴板"), ("dump",), ("conflicts",), ("queue",), ("ledgers",),
    ("attachments", "case", "{case}"), ("keys", "list"), ("status",), ("clock",),
    ("verify", "{future}"),
], ids=lambda command: command[0])
def test_hostile_text_is_shown_literally_by_every_text_output(shown: Shown,
                                                              command: tuple[str, ...]) -> None:
    args = [part.format(case=shown.case_id, future=shown.future) for part in command]
    result = run_cli(shown.township, *args)
    assert result.code == 0, result
    literal = {"search": [LINK], "dump": [LINK, "\\x1b]52;c;"], "conflicts": [LINK],
               "queue": [LINK], "ledgers": [LINK], "attachments": [LINK, "../../.bashrc"],
               "status": ["[link=file:///etc/passwd]村", "\\x1b]52;c;aGk="]}
    harmless(result, *literal.get(command[0], []))


def test_hostile_text_in_merge_messages_is_shown_literally(shown: Shown, tmp_path: Path) -> None:
    home = tmp_path / "township"
    shutil.copytree(shown.township, home)
    # The held-aside notice names the village by its (hostile) name.
    harmless(run_cli(home, "merge", str(shown.future)), "[link=file:///etc/passwd]村")
    # A bundle whose file name holds escapes and markup, merged and then refused.
    harmless(run_cli(home, "merge", str(shown.renamed)), "[red]x[blink]")
    broken = shown.renamed.parent / ("broken-" + BAD_NAME)
    broken.write_bytes(shown.renamed.read_bytes()[:200])
    result = run_cli(home, "merge", str(broken))
    assert result.code == 1
    harmless(result, "[red]x[blink]")


def test_a_hundred_kilobyte_title_is_refused_and_its_message_stays_short(
        nodes: Nodes, tmp_path: Path) -> None:
    line = case_line(nodes.village, title="长" * 100_000)
    found = rejected(nodes.township, forge(nodes.village, tmp_path / "big.vbundle", line),
                     "bad_change")
    assert len(found["message"]) < 300, found["message"][:300]


def _cells(table: DataTable[Any]) -> list[Any]:
    return [cell for row in range(table.row_count) for cell in table.get_row_at(row)]


def _literal(content: Any) -> str:
    """A screen's cell or static: Text only (never markup), and nothing in it a
    terminal would act on. Its plain text."""
    assert isinstance(content, Text), content
    assert not UNSAFE.search(content.plain), repr(content.plain[:200])
    assert not any(span.style and "link" in str(span.style) for span in content.spans)
    return content.plain


async def test_hostile_text_from_a_peer_is_shown_literally_by_the_screens(
        shown: Shown, tmp_path: Path) -> None:
    home = tmp_path / "township"
    shutil.copytree(shown.township, home)
    stick = tmp_path / "stick"
    stick.mkdir()
    shutil.copy(shown.future, stick / "ahead.vbundle")
    shutil.copy(shown.renamed, stick / BAD_NAME)
    app = Harness(lambda: SyncScreen(home, stick))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one("#results", DataTable)
        plain = [_literal(cell) for cell in _cells(table)]
        assert any("[red]x[blink]" in cell for cell in plain), plain
        assert any("[link=file:///etc/passwd]村" in cell for cell in plain), plain
        notes = _literal(app.screen.query_one("#status", Static).content)
        assert "[link=file:///etc/passwd]村" in notes
    app = Harness(lambda: ConflictsScreen(home))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        sides = [_literal(app.screen.query_one(side, Static).content)
                 for side in ("#left", "#right")]
        assert any(LINK in side for side in sides), sides
        [_literal(cell) for cell in _cells(app.screen.query_one("#conflicts", DataTable))]
    app = Harness(lambda: KeysScreen(home))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        [_literal(cell) for cell in _cells(app.screen.query_one("#keys", DataTable))]


def _everything_shown(screen: Any) -> list[str]:
    """The plain text of every table cell and every static on a screen, each
    checked by `_literal` (Text, no escapes) or, for plain strings, for escapes."""
    shown: list[str] = []
    for table in screen.query(DataTable):
        shown += [_literal(cell) if not isinstance(cell, str) else cell
                  for cell in _cells(table)]
    for static in screen.query(Static):
        content = static.content
        shown.append(_literal(content) if isinstance(content, Text) else str(content))
    assert not any(UNSAFE.search(text) for text in shown), [
        text[:80] for text in shown if UNSAFE.search(text)]
    return shown


@pytest.mark.parametrize("office", ["township", "district"])
async def test_the_app_shows_a_peers_hostile_text_literally(shown: Shown, tmp_path: Path,
                                                           office: str) -> None:
    from villagebook.screens.app import make_app

    home = tmp_path / office
    shutil.copytree(getattr(shown, office), home)
    app: Any = make_app(home, "zh")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        seen = _everything_shown(app.screen)
        for key in ("f3", "f8", "ctrl+g", "ctrl+n", "f6", "f7"):
            await pilot.press(key)
            await settle(pilot)
            seen += _everything_shown(app.screen)
            if type(app.screen).__name__ != "DashboardScreen":
                await pilot.press("escape")
                await settle(pilot)
        assert any("[link=file:///etc/passwd]" in text for text in seen)
        assert "\x1b]52" not in app.export_screenshot()
