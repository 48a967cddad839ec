"""A bad segment never poisons its carrier: a township relaying one bad village
segment still gets the rest of its bundle merged at the district, the bad one is
refused by name once and then acknowledged so the township stops relaying it; a
township refuses a village bundle with an absurd number in the first place; and
a village restored from an old copy that reuses a bundle number is refused
loudly, then heals itself so that nothing is lost."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import (
    CASE,
    change_line,
    forge,
    introduce,
    opened,
    refused,
    seal_for,
    send,
    three_nodes,
)
from villagebook.domain.enums import Role
from villagebook.services import cases, problems
from villagebook.services.search import search
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync.identity import load_secret_key
from villagebook.sync.merge import merge_file
from villagebook.sync.minisign import sign
from villagebook.sync.trust import own_key

TOWNSHIP2 = ("320117200000", "东屏街道", DISTRICT[0])
VILLAGE_W = ("320117200201", "长乐村", TOWNSHIP2[0])
PROBLEM = {"title": "村口路灯不亮需要维修", "category": "urgent", "source": "visit",
           "urgency": "high", "reported_date": "2026-05-01"}


def _payload(bundle: Path) -> bytes:
    with zipfile.ZipFile(bundle) as zf:
        return zf.read(fmt.PAYLOAD)


def _relayed(bundle: Path) -> list[str]:
    with zipfile.ZipFile(bundle) as zf:
        return [r["segment"] for r in json.loads(zf.read(fmt.MANIFEST))["relayed"]]


def _segment_of(store: Store, seq: int, receiver: str = TOWNSHIP[0]) -> str:
    return fmt.segment_id(own_key(store).key_id, receiver, seq)


def test_one_bad_village_segment_is_refused_alone_and_the_township_bundle_merges(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        # Another township's village holds case X at the district.
        other = make_node(tmp_path / "t2", Role.TOWNSHIP, TOWNSHIP2)
        far = make_node(tmp_path / "w", Role.VILLAGE, VILLAGE_W)
        introduce(other, far)
        introduce(far, other)
        introduce(n.district, other)
        introduce(other, n.district)
        taken = cases.create_case(far, CASE)
        merge_file(other, send(far, tmp_path / "w-up"))
        assert merge_file(n.district, send(other, tmp_path / "t2-up")).status == "merged"
        # Our village sends an honest bundle, then one that also claims case X.
        honest = cases.create_case(n.village, {**CASE, "title": "村民议事会每月开一次"})
        assert merge_file(n.township, send(n.village, tmp_path / "up1")).status == "merged"
        problems.create_problem(n.village, PROBLEM)
        # Its real change lines:
        ledger = _payload(send(n.village, tmp_path / "scratch", plain=True))
        claim = change_line(entity="case", record=taken, hlc=1_790_000_000_000 << 16,
                            device=n.village.node.device_id, unit=VILLAGE[0],
                            fields={"unit_code": VILLAGE[0], "title": "抢占别村的案例",
                                    "lead_person": "某人", "direction": "process"})
        bad = forge(n.village, tmp_path / "bad.vbundle", ledger + claim, seq=2)
        assert merge_file(n.township, bad).status == "merged"  # it cannot know X
        carrier = send(n.township, tmp_path / "relay1")
        result = run_cli(n.district.home, "merge", str(carrier))
        assert result.code == 1, result
        assert "Traceback" not in result.err
        assert result.out.startswith(f"Merged {carrier.name}: ")
        segment = _segment_of(n.village, 2)
        [line] = [x for x in result.err.splitlines() if x.startswith("Refused segment")]
        assert segment in line and VILLAGE[0] in line and "belongs to unit" in line
        held = {row[0]: row[1] for row in n.district.conn.execute(
            "SELECT id, title FROM innovation_case")}
        assert held[honest] == "村民议事会每月开一次" and held[taken] == CASE["title"]
        # Everything the refused segment wrote is undone: its problem, its search entry.
        assert n.district.conn.execute("SELECT count(*) FROM problem").fetchone() == (0,)
        assert search(n.district, "路灯不亮") == []
        assert n.district.conn.execute("SELECT count(*) FROM sync_segment WHERE segment_id = ?",
                                       (segment,)).fetchone() == (0,)
        # Relayed again (the township has not heard back yet): skipped quietly.
        again = send(n.township, tmp_path / "relay2")
        assert segment in _relayed(opened(n.district, again))
        quiet = run_cli(n.district.home, "merge", "--json", str(again))
        assert quiet.code == 0, quiet
        assert quiet.json()["bundles"][0]["refused_segments"] == []
        # The district's acknowledgement makes the township stop relaying it.
        merge_file(n.township, send(n.district, tmp_path / "down", TOWNSHIP[0]))
        assert segment not in _relayed(opened(n.district, send(n.township,
                                                                tmp_path / "relay3")))
        other.close()
        far.close()


def test_merge_json_names_each_refused_segment(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "up"))
        carrier = _carrier(n.township, tmp_path / "absurd.vbundle",
                           [_segment(n.village, 1_000_000_000), _segment(n.village, 2)])
        checked = run_cli(n.district.home, "verify", "--json", str(carrier))
        assert checked.code == 1, checked
        [verified] = checked.json()["bundles"]
        assert verified["status"] == "verified" and len(verified["refused_segments"]) == 1
        result = run_cli(n.district.home, "merge", "--json", str(carrier))  # verify kept nothing
        assert result.code == 1, result
        [bundle] = result.json()["bundles"]
        assert bundle["status"] == "merged" and bundle["new"] == 1
        [refusal] = bundle["refused_segments"]
        assert refusal["segment"] == _segment_of(n.village, 1_000_000_000)
        assert refusal["origin"] == VILLAGE[0]
        assert refusal["reason"] == "implausible_number"
        assert "1000000000" in refusal["message"]


def test_a_township_refuses_a_village_bundle_with_an_absurd_number(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        line = change_line(entity="case", record="0199aaaa-0000-7000-8000-000000000001",
                           hlc=1_790_000_000_000 << 16, device=n.village.node.device_id,
                           unit=VILLAGE[0], fields={"unit_code": VILLAGE[0], "title": "某案例",
                                                    "lead_person": "某", "direction": "process"})
        bundle = forge(n.village, tmp_path / "absurd.vbundle", line, seq=1_000_000_000)
        refused(n.township, bundle, "1000000000 from unit", "implausible")
        # Within the window of a new stream it is taken (bundles 1-999 lost on the way).
        assert merge_file(n.township, forge(n.village, tmp_path / "ok.vbundle", line,
                                            seq=1000)).status == "merged"


def _segment(village: Store, seq: int) -> tuple[int, dict[str, bytes]]:
    """The three members of a village segment numbered `seq` to the township."""
    line = change_line(entity="case", record=f"0199aaaa-0000-7000-8000-{seq:012d}",
                       hlc=1_790_000_000_000 << 16, device=village.node.device_id,
                       unit=VILLAGE[0], fields={"unit_code": VILLAGE[0], "title": f"案例{seq}",
                                                "lead_person": "某", "direction": "process"})
    path = forge(village, village.home / f"seg-{seq}.vbundle", line, seq=seq, plain=True)
    with zipfile.ZipFile(path) as zf:
        return seq, {name: zf.read(name) for name in (fmt.MANIFEST, fmt.SIGNATURE, fmt.PAYLOAD)}


def _carrier(township: Store, path: Path, segments: list[tuple[int, dict[str, bytes]]]) -> Path:
    """A township bundle to the district relaying the given village segments, as a
    township of an older version (which took any number) would have written it."""
    key = own_key(township)
    village_key = next(k for (k,) in township.conn.execute(
        "SELECT key_id FROM sync_key WHERE unit_code = ?", (VILLAGE[0],)))
    listed, members = [], {}
    for seq, parts in segments:
        segment = fmt.segment_id(village_key, TOWNSHIP[0], seq)
        for name, data in parts.items():
            members[f"{fmt.SEGMENT_DIR}{segment}/{name}"] = data
        listed.append({"segment": segment, **{
            field: hashlib.sha256(parts[name]).hexdigest() for field, name in (
                ("manifest_sha256", fmt.MANIFEST), ("signature_sha256", fmt.SIGNATURE),
                ("payload_sha256", fmt.PAYLOAD))}})
    enrolments = [{"key": k, "unit": VILLAGE[0], "parent": TOWNSHIP[0], "role": "village"}
                  for (k,) in township.conn.execute(
                      "SELECT public_key FROM sync_key WHERE unit_code = ?", (VILLAGE[0],))]
    manifest = {
        "format": fmt.FORMAT, "version": fmt.VERSION,
        "origin": {"unit": key.unit, "role": key.role, "key_id": key.key_id,
                   "device": township.node.device_id},
        "receiver": DISTRICT[0], "seq": 1, "created_at": "2026-11-01T10:00:00+00:00",
        "created_hlc": 1, "payload": {"name": fmt.PAYLOAD, "size": 0,
                                      "sha256": hashlib.sha256(b"").hexdigest(), "sets": 0,
                                      "changes": 0},
        "relayed": listed, "enrolments": enrolments, "revocations": [], "acks": {}}
    raw = json.dumps(manifest, ensure_ascii=False).encode()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(fmt.MANIFEST, raw)
        zf.writestr(fmt.SIGNATURE, sign(load_secret_key(township.home), raw,
                                        fmt.trusted_comment(key.unit, DISTRICT[0], 1)))
        zf.writestr(fmt.PAYLOAD, b"")
        for name, data in members.items():
            zf.writestr(name, data)
    return seal_for(township, path, DISTRICT[0])


def _titles(home: Path) -> set[str]:
    dump = run_cli(home, "dump", "--json", check=True).json()
    return {case["title"] for case in dump["cases"]}


def test_a_village_restored_from_an_old_copy_reusing_a_number_loses_nothing(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        village, township = n.village.home, n.township.home
        village_unit = n.village.node.unit_code
        cases.create_case(n.village, {**CASE, "title": "第一批：垃圾分类"})
        n.village.close()
        n.township.close()
        stick = tmp_path / "stick"
        first = Path(run_cli(village, "export", "--out", str(stick), check=True).out.strip())
        run_cli(township, "merge", str(first), check=True)
        backup = tmp_path / "backup"
        shutil.copytree(village, backup)  # the copy the laptop is restored from
        with Store(village) as store:
            cases.create_case(store, {**CASE, "title": "第二批：路灯改造"})
        second = Path(run_cli(village, "export", "--out", str(stick / "2"), check=True)
                      .out.strip())
        run_cli(township, "merge", str(second), check=True)
        # The laptop is restored from the old copy; new work; bundle 2 again.
        shutil.rmtree(village)
        shutil.copytree(backup, village)
        with Store(village) as store:
            cases.create_case(store, {**CASE, "title": "恢复后：新的议事会"})
        reused = Path(run_cli(village, "export", "--out", str(stick / "2b"), check=True)
                      .out.strip())
        assert reused.name.endswith("-0002.vbundle")
        result = run_cli(township, "merge", str(reused))
        assert result.code == 1, result
        assert "Traceback" not in result.err
        assert "bundle number 2 again with different content" in result.err
        assert "restored from an old copy" in result.err
        assert _titles(township) == {"第一批：垃圾分类", "第二批：路灯改造"}
        # Merged again: still refused, loudly.
        assert run_cli(township, "merge", str(reused)).code == 1
        # The township's next bundle down tells the village; the village sends again.
        down = Path(run_cli(township, "export", "--to", village_unit, "--out",
                            str(stick / "down"), check=True).out.strip())
        run_cli(village, "merge", str(down), check=True)
        fresh = Path(run_cli(village, "export", "--out", str(stick / "3"), check=True)
                     .out.strip())
        assert fresh.name.endswith("-0003.vbundle")
        run_cli(township, "merge", str(fresh), check=True)
        assert _titles(township) == {"第一批：垃圾分类", "第二批：路灯改造", "恢复后：新的议事会"}


def test_a_restored_village_that_merges_first_takes_a_fresh_number(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        stick = tmp_path / "stick"
        merge_file(n.township, send(n.village, stick / "1"))
        backup = tmp_path / "backup"
        n.village.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copytree(n.village.home, backup)
        cases.create_case(n.village, {**CASE, "title": "第二批"})
        merge_file(n.township, send(n.village, stick / "2"))
        down = send(n.township, stick / "down", VILLAGE[0])
    with Store(backup) as restored:
        assert merge_file(restored, down).status == "merged"
        cases.create_case(restored, {**CASE, "title": "恢复后"})
        assert send(restored, stick / "3").name.endswith("-0003.vbundle")


def test_a_reused_number_is_caught_for_segments_merged_before_hashes_were_kept(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        line = _payload(send(n.village, tmp_path / "scratch", plain=True))
        assert merge_file(n.township, forge(n.village, tmp_path / "a.vbundle", line)).status \
            == "merged"
        # As a database upgraded from before the hashes: the kept bundle file decides.
        with n.township.transaction() as conn:
            conn.execute("UPDATE sync_segment SET manifest_sha256 = ''")
        other = forge(n.village, tmp_path / "b.vbundle", line, overrides={
            "created_at": "2026-11-02T10:00:00+00:00"})
        refused_now = merge_file(n.township, other)
        assert refused_now.status == "rejected" and refused_now.reason == "reused_number"
        assert merge_file(n.township, tmp_path / "a.vbundle").status == "already"
