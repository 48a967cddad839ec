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
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOWNSHIP, VILLAGE, run_cli
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
from villagebook.services import cases
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


def district_titles(store: Store) -> set[str]:
    """The titles of the cases a node holds."""
    return {row[0] for row in store.conn.execute("SELECT title FROM innovation_case")}


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
    bundle = forge(nodes.village, tmp_path / "a.vbundle", case_line(nodes.village), seq=2,
                   plain=True)  # taken apart below
    members = members_of(bundle)
    other = sign(load_secret_key(nodes.village.home), members[fmt.MANIFEST],
                 fmt.trusted_comment(VILLAGE[0], TOWNSHIP[0], 1))
    swapped = rewrite(bundle, tmp_path / "comment.vbundle", {fmt.SIGNATURE: other.encode()})
    rejected(nodes.township, swapped, "bad_manifest")


def test_a_legacy_signature_over_the_raw_manifest_is_refused(nodes: Nodes,
                                                             tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "a.vbundle", case_line(nodes.village),
                   plain=True)  # taken apart below
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
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    rejected(nodes.township, rewrite(bundle, tmp_path / "odd.vbundle", {name: b"x"}),
             "bad_member")


def test_a_member_name_with_a_nul_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    # Readers cut a name at its NUL: "changes.jsonl\0/../../evil" reads as a second
    # "changes.jsonl", and a tool that does not cut it writes elsewhere.
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    odd = _patched_name(bundle, tmp_path / "nul.vbundle", b"changes.jsonlX/../../evil",
                        b"changes.jsonl\x00/../../evil")
    rejected(nodes.township, odd, "bad_member")
    alone = _patched_name(bundle, tmp_path / "nul2.vbundle", b"notes.txtX", b"notes.txt\x00")
    rejected(nodes.township, alone, "bad_member")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_member_compressed_another_way_is_refused(nodes: Nodes, tmp_path: Path,
                                                    method: int) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    other = tmp_path / "method.vbundle"
    with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(other, "w") as new:
        for name in old.namelist():
            new.writestr(name, old.read(name),
                         compress_type=method if name == fmt.PAYLOAD else zipfile.ZIP_STORED)
    rejected(nodes.township, other, "bad_member")


def test_an_encrypted_member_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
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
