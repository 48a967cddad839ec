"""Hostile bundles: each is refused with a clear reason, exit 1, and the
township's database exactly as it was. Nothing in a bundle is believed before
its signature and hashes check out."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import (
    CASE,
    VILLAGE2,
    Nodes,
    change_line,
    forge,
    introduce,
    refused,
    send,
    state,
    three_nodes,
)
from villagebook.domain.clock import physical
from villagebook.domain.enums import Role
from villagebook.services import cases
from villagebook.store.node import Store
from villagebook.sync.format import trusted_comment
from villagebook.sync.identity import load_secret_key
from villagebook.sync.merge import merge_file
from villagebook.sync.minisign import sign


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with three_nodes(tmp_path) as found:
        cases.create_case(found.village, CASE)
        yield found


def rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """Copy a bundle, replacing (or, with None, dropping) some members' bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in change:
                data = change[info.filename]
                if data is not None:
                    new.writestr(info.filename, data)
            else:
                new.writestr(info, old.read(info))
        for name, data in change.items():
            if name not in old.namelist() and data is not None:
                new.writestr(name, data)
    return target


def _data_offset(bundle: Path, name: str) -> int:
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo(name)
    raw = bundle.read_bytes()
    start = info.header_offset
    name_len = int.from_bytes(raw[start + 26:start + 28], "little")
    extra_len = int.from_bytes(raw[start + 28:start + 30], "little")
    return start + 30 + name_len + extra_len + info.compress_size // 2


@pytest.mark.parametrize("member", ["manifest.json", "manifest.minisig", "changes.jsonl"])
def test_a_bit_flip_in_any_member_is_refused(nodes: Nodes, tmp_path: Path, member: str) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    raw = bytearray(bundle.read_bytes())
    raw[_data_offset(bundle, member)] ^= 0x04
    flipped = tmp_path / "flipped.vbundle"
    flipped.write_bytes(bytes(raw))
    refused(nodes.township, flipped, "damaged", "signature", "does not match")


def test_a_bit_flip_anywhere_never_lets_altered_data_through(nodes: Nodes,
                                                             tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    clean = bundle.read_bytes()
    with zipfile.ZipFile(bundle) as zf:
        original = {name: zf.read(name) for name in zf.namelist()}
    before = state(nodes.township)
    flipped = tmp_path / "f.vbundle"
    for offset in range(0, len(clean), 7):
        raw = bytearray(clean)
        raw[offset] ^= 1 << (offset % 8)
        flipped.write_bytes(bytes(raw))
        result = merge_file(nodes.township, flipped, dry_run=True)
        assert result.status in ("rejected", "verified"), offset
        if result.status == "verified":  # the flip hit zip metadata that carries no data
            with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
                assert {name: zf.read(name) for name in zf.namelist()} == original
    assert state(nodes.township) == before


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_a_truncated_bundle_is_refused(nodes: Nodes, tmp_path: Path, keep: float) -> None:
    raw = send(nodes.village, tmp_path / "stick", plain=True).read_bytes()
    cut = tmp_path / "cut.vbundle"
    cut.write_bytes(raw[: int(len(raw) * keep)])
    refused(nodes.township, cut, "not a complete bundle")


def test_a_bundle_from_an_unknown_key_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    stranger = make_node(tmp_path / "stranger", Role.VILLAGE, VILLAGE2)
    introduce(stranger, nodes.township)
    cases.create_case(stranger, CASE)
    bundle = send(stranger, tmp_path / "stick")
    stranger.close()
    refused(nodes.township, bundle, "does not trust")


def test_a_manifest_signed_with_another_trusted_key_is_refused(nodes: Nodes,
                                                               tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    with zipfile.ZipFile(bundle) as zf:
        manifest = zf.read("manifest.json")
    meta = json.loads(manifest)
    comment = f"villagebook-bundle 1 from {VILLAGE[0]} to {TOWNSHIP[0]} number {meta['seq']}"
    other = sign(load_secret_key(nodes.district.home), manifest, comment)
    forged = rewrite(bundle, tmp_path / "wrong-key.vbundle", {"manifest.minisig": other.encode()})
    refused(nodes.township, forged, "says it comes from unit")


def test_a_revoked_key_is_refused_but_what_it_signed_before_stays(nodes: Nodes,
                                                                  tmp_path: Path) -> None:
    first = send(nodes.village, tmp_path / "a")
    assert merge_file(nodes.township, first).status == "merged"
    cases.create_case(nodes.village, {**CASE, "title": "吊销之后"})
    later = send(nodes.village, tmp_path / "b")
    key = run_cli(nodes.village.home, "keys", "list", "--json").json()[0]["key_id"]
    assert run_cli(nodes.township.home, "keys", "revoke", key).code == 0
    refused(nodes.township, later, "was revoked")
    titles = [r[0] for r in nodes.township.conn.execute("SELECT title FROM innovation_case")]
    assert titles == [CASE["title"]]


def test_a_signed_manifest_with_a_swapped_payload_is_refused(nodes: Nodes,
                                                            tmp_path: Path) -> None:
    first = send(nodes.village, tmp_path / "a", plain=True)
    cases.create_case(nodes.village, {**CASE, "title": "另一个"})
    second = send(nodes.village, tmp_path / "b", plain=True)
    with zipfile.ZipFile(second) as zf:
        payload = zf.read("changes.jsonl")
    mixed = rewrite(first, tmp_path / "mixed.vbundle", {"changes.jsonl": payload})
    refused(nodes.township, mixed, "does not match its hash")


def _case_line(store: Store, unit: str, record: str = "0199aaaa-0000-7000-8000-000000000001",
               **fields: object) -> bytes:
    values = {"unit_code": unit, "title": "冒名案例", "lead_person": "某人",
              "direction": "process", **fields}
    return change_line(entity="case", record=record, hlc=(1_790_000_000_000 << 16),
                       device=store.node.device_id, unit=unit, fields=values)


def test_a_trusted_village_writing_another_villages_case_is_refused(nodes: Nodes,
                                                                   tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "other.vbundle",
                   _case_line(nodes.village, VILLAGE2[0]))
    refused(nodes.township, bundle, "may not write")


def test_a_village_lying_about_a_records_owner_is_refused(nodes: Nodes,
                                                          tmp_path: Path) -> None:
    line = _case_line(nodes.village, VILLAGE[0], unit_code=VILLAGE2[0])
    line = line.replace(f'"unit_code":"{VILLAGE[0]}"'.encode(),
                        f'"unit_code":"{VILLAGE2[0]}"'.encode())
    bundle = forge(nodes.village, tmp_path / "lie.vbundle", line)
    refused(nodes.township, bundle, "belongs to unit")


def test_a_village_editing_another_villages_held_case_is_refused(nodes: Nodes,
                                                                 tmp_path: Path) -> None:
    neighbour = make_node(tmp_path / "neighbour", Role.VILLAGE, VILLAGE2)
    introduce(nodes.township, neighbour)
    introduce(neighbour, nodes.township)
    case_id = cases.create_case(neighbour, CASE)
    assert merge_file(nodes.township, send(neighbour, tmp_path / "n")).status == "merged"
    neighbour.close()
    edit = change_line(entity="case", record=case_id, hlc=(1_790_000_000_000 << 16),
                       device=nodes.village.node.device_id, unit=VILLAGE[0],
                       fields={"title": "改掉别村的案例"})
    refused(nodes.township, forge(nodes.village, tmp_path / "edit.vbundle", edit),
            "belongs to unit")


def test_a_change_set_claiming_another_device_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    line = _case_line(nodes.village, VILLAGE[0]).replace(
        nodes.village.node.device_id.encode(), b"0123456789abcdef")
    refused(nodes.township, forge(nodes.village, tmp_path / "dev.vbundle", line), "invalid")


@pytest.mark.parametrize("name", [
    "../evil", "/etc/passwd", "segments/../x", "changes.jsonl/", "a\\b", "MANIFEST.JSON",
    "segments/0000000000000000-320117100000-1/../../changes.jsonl",
])
def test_oddly_named_members_are_refused(nodes: Nodes, tmp_path: Path, name: str) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    odd = rewrite(bundle, tmp_path / "odd.vbundle", {name: b"x"})
    refused(nodes.township, odd, "unexpected member")


def test_duplicate_members_are_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    twice = tmp_path / "twice.vbundle"
    with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(twice, "w") as new, \
            pytest.warns(UserWarning):
        for name in old.namelist():
            new.writestr(name, old.read(name))
        new.writestr("changes.jsonl", b"")
    refused(nodes.township, twice, "unexpected member")


def test_symlink_and_directory_members_are_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    link = tmp_path / "link.vbundle"
    with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(link, "w") as new:
        for name in old.namelist():
            info = zipfile.ZipInfo(name)
            if name == "changes.jsonl":
                info.external_attr = (0o120777 << 16)
            new.writestr(info, old.read(name))
    refused(nodes.township, link, "unexpected member")
    folder = rewrite(bundle, tmp_path / "dir.vbundle", {"segments/": b""})
    refused(nodes.township, folder, "unexpected member")


def test_a_compression_bomb_is_refused_before_it_is_inflated(nodes: Nodes,
                                                             tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    bomb = tmp_path / "bomb.vbundle"
    with zipfile.ZipFile(bundle) as old, \
            zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as new:
        for name in old.namelist():
            new.writestr(name, old.read(name) if name != "changes.jsonl" else b"\0" * (40 << 20))
    refused(nodes.township, bomb, "safety limit")


def test_an_oversized_member_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    big = rewrite(bundle, tmp_path / "big.vbundle", {"manifest.json": os.urandom(9 << 20)})
    refused(nodes.township, big, "safety limit")


def test_too_many_members_are_refused(nodes: Nodes, tmp_path: Path) -> None:
    crowd = tmp_path / "crowd.vbundle"
    with zipfile.ZipFile(crowd, "w") as zf:
        for number in range(15_010):
            zf.writestr(f"segments/0000000000000000-320117100000-{number + 1}/changes.jsonl",
                        b"")
    refused(nodes.township, crowd, "safety limit")


def test_invalid_utf8_in_the_payload_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    line = _case_line(nodes.village, VILLAGE[0]).replace("冒名".encode(), b"\xff\xfe")
    bundle = forge(nodes.village, tmp_path / "utf8.vbundle", line, changes=4)
    refused(nodes.township, bundle, "not valid UTF-8")


def test_a_lone_surrogate_escape_in_the_payload_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    # Valid JSON and valid UTF-8, but "\\ud800" alone decodes to text no database can store.
    line = _case_line(nodes.village, VILLAGE[0]).replace("冒名".encode(), b"\\ud800")
    bundle = forge(nodes.village, tmp_path / "surrogate.vbundle", line, changes=4)
    refused(nodes.township, bundle, "not valid UTF-8")
    # A surrogate pair is a real character (an emoji written as two escapes): accepted.
    paired = _case_line(nodes.village, VILLAGE[0]).replace("冒名".encode(), b"\\ud83c\\udf3e")
    bundle = forge(nodes.village, tmp_path / "pair.vbundle", paired, changes=4)
    assert run_cli(nodes.township.home, "merge", str(bundle)).code == 0
    assert "\U0001f33e案例" in run_cli(nodes.township.home, "search", "案例").out


def test_invalid_json_in_the_payload_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "json.vbundle", b'{"entity": "case",\n',
                   sets=1, changes=1)
    refused(nodes.township, bundle, "invalid JSON")


def test_a_future_format_version_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "v9.vbundle", _case_line(nodes.village, VILLAGE[0]),
                   overrides={"version": 9})
    refused(nodes.township, bundle, "format version 9")


def test_timestamps_years_in_the_future_are_held_aside_not_applied(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as nodes:
        year_2031 = 1_932_000_000_000
        wrong = Store(nodes.village.home, wall_ms=lambda: year_2031)
        cases.create_case(wrong, CASE)
        bundle = send(wrong, tmp_path / "stick")
        wrong.close()
        result = merge_file(nodes.township, bundle)
        assert result.status == "merged"
        assert result.held_aside[VILLAGE[0]][0] == 1
        assert nodes.township.conn.execute("SELECT count(*) FROM innovation_case"
                                           ).fetchone()[0] == 0
        # What is held aside moves neither the clock nor the newest time heard from others.
        assert physical(nodes.township.node_hlc()) < year_2031 - 86_400_000 * 365
        assert physical(nodes.township.seen_hlc()) < year_2031 - 86_400_000 * 365


def test_a_bundle_for_another_unit_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "elsewhere.vbundle",
                   _case_line(nodes.village, VILLAGE[0]), receiver="320117200000")
    refused(nodes.township, bundle, "was made for unit 320117200000")


def test_a_missing_or_unlisted_member_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    refused(nodes.township, rewrite(bundle, tmp_path / "m.vbundle", {"changes.jsonl": None}),
            "lacks its member")
    unlisted = "segments/0000000000000000-320117100000-1/changes.jsonl"
    refused(nodes.township, rewrite(bundle, tmp_path / "u.vbundle", {unlisted: b""}),
            "unexpected member")


def test_markup_and_escape_sequences_are_stored_as_data_and_shown_literally(
        nodes: Nodes, tmp_path: Path) -> None:
    title = "[bold red]紧急[/] \x1b[2J\x1b]8;;http://evil\x07链接"
    bundle = forge(nodes.village, tmp_path / "markup.vbundle",
                   _case_line(nodes.village, VILLAGE[0], title=title))
    result = run_cli(nodes.township.home, "merge", str(bundle))
    assert result.code == 0, result
    stored = nodes.township.conn.execute("SELECT title FROM innovation_case").fetchone()[0]
    assert stored == title
    shown = run_cli(nodes.township.home, "dump")
    assert "\x1b" not in shown.out and "[bold red]紧急[/]" in shown.out


def test_a_malformed_signature_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    bundle = send(nodes.village, tmp_path / "stick", plain=True)
    broken = rewrite(bundle, tmp_path / "sig.vbundle",
                     {"manifest.minisig": b"untrusted comment: x\nnot base64\n"})
    refused(nodes.township, broken, "signature is malformed")


def test_a_missing_file_is_refused_as_unreadable(nodes: Nodes, tmp_path: Path) -> None:
    refused(nodes.township, tmp_path / "nowhere.vbundle", "Cannot read")


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_deeply_nested_json_in_a_change_line_is_refused_as_bad_json(nodes: Nodes,
                                                                     tmp_path: Path) -> None:
    line = b'{"entity":"case","record":"x","hlc":1,"fields":' + DEEP + b"}\n"
    bundle = forge(nodes.village, tmp_path / "deep.vbundle", line, sets=1, changes=1)
    refused(nodes.township, bundle, "invalid JSON")


def test_deeply_nested_json_in_a_manifest_is_refused_as_bad_json(nodes: Nodes,
                                                                 tmp_path: Path) -> None:
    bundle = forge(nodes.village, tmp_path / "plain.vbundle", b"", sets=0, changes=0,
                   overrides={"extra": "PLACEHOLDER"}, plain=True)
    with zipfile.ZipFile(bundle) as zf:
        raw = zf.read("manifest.json").replace(b'"PLACEHOLDER"', DEEP)
    signature = sign(load_secret_key(nodes.village.home), raw,
                     trusted_comment(VILLAGE[0], TOWNSHIP[0], 1))
    deep = rewrite(bundle, tmp_path / "deep.vbundle",
                   {"manifest.json": raw, "manifest.minisig": signature.encode()})
    refused(nodes.township, deep, "invalid JSON")
    bundle = forge(nodes.village, tmp_path / "forty.vbundle", b"", sets=0, changes=0,
                   overrides={"created_at": json.loads("[" * 40 + "]" * 40)})
    refused(nodes.township, bundle, "invalid JSON")
    within = forge(nodes.village, tmp_path / "ok.vbundle", b"", sets=0, changes=0,
                   overrides={"extra": json.loads("[" * 31 + "]" * 31)})
    assert run_cli(nodes.township.home, "merge", str(within)).code == 0


def test_a_hostile_bundle_between_two_good_ones_stops_nothing(nodes: Nodes,
                                                               tmp_path: Path) -> None:
    first = send(nodes.village, tmp_path / "a")
    cases.create_case(nodes.village, {**CASE, "title": "第二个案例"})
    last = send(nodes.village, tmp_path / "c")
    line = b'{"entity":"case","record":"x","hlc":1,"fields":' + DEEP + b"}\n"
    hostile = forge(nodes.village, tmp_path / "b.vbundle", line, seq=9, sets=1, changes=1)
    result = run_cli(nodes.township.home, "merge", str(first), str(hostile), str(last))
    assert result.code == 1, result
    assert "Traceback" not in result.err
    assert f"Merged {first.name}: " in result.out and f"Merged {last.name}: " in result.out
    assert f"Rejected {hostile.name}: " in result.err
    assert nodes.township.conn.execute("SELECT count(*) FROM innovation_case").fetchone() == (2,)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading_it(nodes: Nodes) -> None:
    result = run_cli(nodes.township.home, "merge", "/dev/zero")
    assert result.code == 1, result
    assert result.err.strip() == ("Rejected zero: /dev/zero is not a regular file (a pipe, a "
                                  "device or a folder); only bundle files can be merged")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_waiting_for_it(nodes: Nodes, tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    os.mkfifo(stick / "pipe.vbundle")
    for target in (stick / "pipe.vbundle", stick):  # by name, and found in a folder
        before = state(nodes.township)
        result = run_cli(nodes.township.home, "verify", str(target))
        assert result.code == 1, result
        assert result.err.startswith("Rejected pipe.vbundle: ") and "not a regular file" in \
            result.err
        assert state(nodes.township) == before


def test_a_record_id_with_a_trailing_newline_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    line = _case_line(nodes.village, VILLAGE[0], record="0199aaaa-0000-7000-8000-000000000001\n")
    refused(nodes.township, forge(nodes.village, tmp_path / "nl.vbundle", line), "record id")


def test_a_unit_code_with_a_trailing_newline_is_refused(nodes: Nodes, tmp_path: Path) -> None:
    line = _case_line(nodes.village, VILLAGE[0]).replace(
        f'"unit":"{VILLAGE[0]}"'.encode(), f'"unit":"{VILLAGE[0]}\\n"'.encode())
    refused(nodes.township, forge(nodes.village, tmp_path / "nl.vbundle", line), "invalid")


def _padded_line(store: Store, length: int) -> bytes:
    """A valid change line of exactly `length` bytes, padded with a key nobody reads
    (incompressible, so that no compression-ratio limit speaks first)."""
    line = _case_line(store, VILLAGE[0]).rstrip(b"\n")
    pad = base64.b64encode(os.urandom(length)).decode("ascii")
    head = line[:-1] + b',"pad":"'
    return head + pad[:length - len(head) - 2].encode() + b'"}\n'


def test_the_line_cap_is_one_megabyte_exactly(nodes: Nodes, tmp_path: Path) -> None:
    cap = 1 << 20
    over = forge(nodes.village, tmp_path / "over.vbundle", _padded_line(nodes.village, cap + 1))
    refused(nodes.township, over, "safety limit (line length)")
    exact = forge(nodes.village, tmp_path / "exact.vbundle", _padded_line(nodes.village, cap))
    assert run_cli(nodes.township.home, "merge", str(exact)).code == 0
