"""User stories of sync: a village's case travels up to the district and the
decisions travel back down, with real homes, real bundles and real signatures."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, run_cli
from tests.sync_helpers import CASE, opened, send, state, three_nodes
from tests.test_store import busy_village, expected_documents, search_documents
from villagebook.domain.enums import ReviewDecision
from villagebook.services import cases, problems, records
from villagebook.services.dump import dump_json
from villagebook.services.search import search
from villagebook.store.node import Store
from villagebook.sync import merge as merge_module
from villagebook.sync.merge import merge_file
from villagebook.sync.status import streams


def test_a_case_goes_up_and_the_decisions_come_back_down(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        # 白马村 logs a case offline and submits it; the secretary carries the stick.
        case_id = cases.create_case(n.village, CASE)
        cases.submit_case(n.village, case_id)
        up = send(n.village, tmp_path / "stick")
        assert merge_file(n.township, up).status == "merged"
        # The township approves it and passes everything up to the district.
        cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "做法可推广", "李镇长")
        relay = send(n.township, tmp_path / "stick2")
        with zipfile.ZipFile(opened(n.district, relay)) as zf:
            assert any(name.startswith("segments/") for name in zf.namelist())
        result = merge_file(n.district, relay)
        assert result.status == "merged", result.error
        # The district checked the village's own signature, never having met the village.
        assert VILLAGE[0] in result.origins
        records.create_record(n.district, "score", {
            "case_id": case_id, "expert": "张教授", "score": 88, "date": "2026-11-20"},
            owner=VILLAGE[0])
        cases.move_case(n.district, case_id, "scored")
        # Decisions travel down: district → township → village (with --to VILLAGE).
        assert merge_file(n.township, send(n.district, tmp_path / "down",
                                           TOWNSHIP[0])).status == "merged"
        down = send(n.township, tmp_path / "down2", VILLAGE[0])
        result = merge_file(n.village, down)
        assert result.status == "merged", result.error
        village_case = cases.get_case(n.village, case_id)
        assert village_case["status"] == "scored"
        assert cases.reviews_of(n.village, case_id)[0]["comment"] == "做法可推广"
        score = n.village.conn.execute("SELECT score FROM score").fetchone()
        assert score == (88,)


def test_merging_a_bundle_twice_says_already_merged_and_changes_nothing(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        bundle = send(n.village, tmp_path / "stick")
        first = run_cli(n.township.home, "merge", str(bundle), "--json")
        before = state(n.township)
        again = run_cli(n.township.home, "merge", str(bundle), "--json")
        assert first.code == again.code == 0
        assert first.json()["bundles"][0]["status"] == "merged"
        assert again.json()["bundles"][0]["status"] == "already"
        assert state(n.township) == before
        text = run_cli(n.township.home, "merge", str(bundle), lang="zh")
        assert "已合并过" in text.out


def test_export_sends_only_what_the_receiver_lacks(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        first = send(n.village, tmp_path / "a")
        merge_file(n.township, first)
        # No acknowledgement yet: the next bundle repeats the unit record and the case.
        assert _sets(n.township, send(n.village, tmp_path / "b")) == 2
        # The township's bundle down says what it holds; then only new work travels.
        merge_file(n.village, send(n.township, tmp_path / "c", VILLAGE[0]))
        assert _sets(n.township, send(n.village, tmp_path / "d")) == 0
        cases.create_case(n.village, {**CASE, "title": "第二个案例"})
        assert _sets(n.township, send(n.village, tmp_path / "e")) == 1
        assert _sets(n.township, send(n.village, tmp_path / "f", full=True)) == 3  # unit + 2 cases


def _sets(reader: Store, bundle: Path) -> int:
    with zipfile.ZipFile(opened(reader, bundle)) as zf:
        return int(json.loads(zf.read("manifest.json"))["payload"]["sets"])


def test_a_gap_in_bundle_numbers_is_reported(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        bundles = []
        for number in range(4):
            cases.create_case(n.village, {**CASE, "title": f"案例{number}"})
            bundles.append(send(n.village, tmp_path / "stick"))
        for bundle in (bundles[0], bundles[3]):
            assert merge_file(n.township, bundle).status == "merged"
        [stream] = streams(n.township)
        assert stream.missing == ((2, 3),)
        n.township.close()
        result = run_cli(n.township.home, "merge", str(bundles[3]))
        assert "Bundles 2–3 from 白马村 have not arrived" in result.err
        zh = run_cli(n.township.home, "status", lang="zh")
        assert "来自白马村的第 2–3 号数据包尚未收到" in zh.out


def test_a_whole_usb_stick_is_merged_at_once_in_any_order(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        for number in range(3):
            cases.create_case(n.village, {**CASE, "title": f"案例{number}"})
            bundle = send(n.village, tmp_path / "made")
            # Chat apps rename files: the name carries no meaning.
            stick = tmp_path / "stick"
            stick.mkdir(exist_ok=True)
            bundle.rename(stick / f"微信文件({2 - number}).vbundle")
        result = run_cli(n.township.home, "merge", str(tmp_path / "stick"), "--json")
        assert result.code == 0, result.err
        statuses = [b["status"] for b in result.json()["bundles"]]
        assert statuses.count("merged") >= 1
        assert run_cli(n.township.home, "dump", "--json").json()["cases"][2]["title"]


def test_verify_checks_without_changing_anything(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        bundle = send(n.village, tmp_path / "stick")
        before = state(n.township)
        result = run_cli(n.township.home, "verify", str(bundle), "--json")
        assert result.code == 0, result.err
        assert result.json()["bundles"][0]["status"] == "verified"
        assert state(n.township) == before


def test_concurrent_edits_of_one_field_are_queued_and_resolved_by_a_person(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        # A second laptop of the same village: the two laptops trust each other (the
        # first one hands the second over), and the second trusts the township. The
        # township learns the second laptop from the first one's bundle.
        from tests.conftest import make_node
        from tests.sync_helpers import introduce
        from villagebook.domain.enums import Role

        laptop = make_node(tmp_path / "laptop2", Role.VILLAGE, VILLAGE)
        introduce(n.village, laptop)
        introduce(laptop, n.village)
        introduce(laptop, n.township)
        try:
            case_id = cases.create_case(n.village, CASE)
            assert merge_file(n.township, send(n.village, tmp_path / "a")).status == "merged"
            down = merge_file(laptop, send(n.township, tmp_path / "b", VILLAGE[0]))
            assert down.status == "merged", down.error
            cases.update_case(n.village, case_id, {"title": "甲的标题", "results": "节省3天"})
            cases.update_case(laptop, case_id, {"title": "乙的标题"})
            merge_file(n.township, send(n.village, tmp_path / "c"))
            result = merge_file(n.township, send(laptop, tmp_path / "d"))
            assert result.conflicts == 1
            # Different fields both survive; the same field waits for a person.
            listed = run_cli(n.township.home, "conflicts", "--json").json()
            assert [c["field"] for c in listed] == ["title"]
            values = {v["value"]: v["value_id"] for v in listed[0]["values"]}
            assert set(values) == {"甲的标题", "乙的标题"}
            assert cases.get_case(n.township, case_id)["results"] == "节省3天"
            # Only the village may settle its own case's title: on the laptop.
            merge_file(laptop, send(n.township, tmp_path / "e", VILLAGE[0]))
            refused = run_cli(n.township.home, "conflicts", "resolve", listed[0]["id"],
                              "--keep", values["乙的标题"])
            assert refused.code == 1
            laptop.close()
            done = run_cli(laptop.home, "conflicts", "resolve", listed[0]["id"],
                           "--keep", values["乙的标题"])
            assert done.code == 0, done.err
            laptop = make_node_reopen(laptop.home)
            merge_file(n.township, send(laptop, tmp_path / "f"))
            assert run_cli(n.township.home, "conflicts", "--json").json() == []
            assert cases.get_case(n.township, case_id)["title"] == "乙的标题"
        finally:
            laptop.close()


def make_node_reopen(home: Path):  # type: ignore[no-untyped-def]
    from villagebook.store.node import Store

    return Store(home)


def test_a_deleted_record_never_comes_back_from_an_old_bundle(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        old = send(n.village, tmp_path / "old")
        cases.delete_case(n.village, case_id)
        merge_file(n.township, send(n.village, tmp_path / "new", full=True))
        assert merge_file(n.township, old).status in ("merged", "already")
        assert records.get_record(n.township, "case", case_id) is None
        assert json.loads(dump_json(n.township))["cases"] == []


def test_keys_show_trust_list_and_revoke_on_the_command_line(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        homes = (n.village.home, n.township.home, n.district.home)
    village, township, _ = homes
    shown = run_cli(village, "keys", "show")
    assert "Fingerprint" in shown.out and "untrusted comment:" in shown.out
    public = run_cli(village, "keys", "show", "--public").out
    # minisign's two lines, then the encryption recipient signed by the key.
    assert public.startswith("untrusted comment:") and len(public.splitlines()) == 3
    assert public.splitlines()[2].startswith("villagebook-age-recipient: age1")
    listed = run_cli(township, "keys", "list", "--json").json()
    assert {k["unit"] for k in listed} == {VILLAGE[0], TOWNSHIP[0], DISTRICT[0]}
    village_key = next(k for k in listed if k["unit"] == VILLAGE[0])
    revoked = run_cli(township, "keys", "revoke", village_key["key_id"])
    assert revoked.code == 0
    again = run_cli(township, "keys", "list", "--json").json()
    assert next(k for k in again if k["unit"] == VILLAGE[0])["revoked_at"]
    (tmp_path / "junk.pub").write_text("not a key", encoding="utf-8")
    bad = run_cli(township, "keys", "trust", str(tmp_path / "junk.pub"), "--unit", VILLAGE[0])
    assert bad.code == 1 and "not a minisign public key" in bad.err


def test_export_refuses_a_receiver_that_is_neither_parent_nor_child(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        home = n.village.home
    result = run_cli(home, "export", "--to", "320117200000", lang="zh")
    assert result.code == 1
    assert "既不是本机的上级单位" in result.err
    assert not (home / "outbox").exists()


def test_status_lists_what_was_heard_from_whom(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "a"))
        home = n.township.home
    listed = run_cli(home, "status", "--json").json()
    assert [(s["origin"], s["receiver"], s["highest"], s["missing"]) for s in listed] == [
        (VILLAGE[0], TOWNSHIP[0], 1, [])]
    assert listed[0]["last_heard"]


def test_search_finds_merged_follow_ups_whatever_batch_brought_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small batches: the problem, its follow-ups and the later deletion of one of
    # them are applied in different batches, and re-indexed once at the end.
    monkeypatch.setattr(merge_module, "BATCH_SETS", 2)
    with three_nodes(tmp_path) as n:
        problem_id = problems.create_problem(n.village, {
            "title": "村道破损", "category": "urgent", "source": "visit",
            "reported_date": "2025-03-01", "urgency": "high", "deadline": "2025-06-01"})
        for word in ("井盖更换完毕", "路灯已修", "排水沟清淤"):
            problems.add_followup(n.village, problem_id, word, "赵六")
        merged = merge_file(n.township, send(n.village, tmp_path / "stick"))
        assert merged.status == "merged", merged.error
        for query in ("井盖", "路灯已修", "清淤", "村道"):
            assert [hit.record_id for hit in search(n.township, query)] == [problem_id], query
        (lamp,) = [f["id"] for f in problems.followups_of(n.village, problem_id)
                   if f["text"] == "路灯已修"]
        records.delete_record(n.village, "followup", lamp, owner=VILLAGE[0])
        assert merge_file(n.township, send(n.village, tmp_path / "stick2")).status == "merged"
        assert search(n.township, "路灯") == []
        assert [hit.record_id for hit in search(n.township, "井盖")] == [problem_id]


def test_the_search_index_mirrors_the_merged_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_module, "BATCH_SETS", 7)
    with three_nodes(tmp_path) as n:
        busy_village(n.village, seed=5)
        assert merge_file(n.township, send(n.village, tmp_path / "stick")).status == "merged"
        assert search_documents(n.township) == expected_documents(n.township)
        held = [rid for (rid,) in n.village.conn.execute(
            "SELECT id FROM innovation_case ORDER BY id")]
        cases.update_case(n.village, held[0], {"title": "改过的标题", "measures": "新的做法"})
        cases.delete_case(n.village, held[1])  # edits and deletes of records the township holds
        assert merge_file(n.township, send(n.village, tmp_path / "stick2")).status == "merged"
        assert search_documents(n.township) == expected_documents(n.township)


def test_a_villages_demo_data_reaches_the_township_whole(tmp_path: Path) -> None:
    """A new secretary tries the demo, exports, and the township holds every case with
    the status the village shows: a village's demo writes only what it may send."""
    with three_nodes(tmp_path) as n:
        village, township = n.village.home, n.township.home
    run_cli(village, "demo", "--cases", "40", "--problems", "20", "--seed", "3", check=True)
    bundle = Path(run_cli(village, "export", "--out", str(tmp_path / "usb"),
                          check=True).out.strip())
    run_cli(township, "merge", str(bundle), check=True)
    sent = {c["id"]: c["status"] for c in run_cli(village, "dump", "--json").json()["cases"]}
    held = {c["id"]: c["status"] for c in run_cli(township, "dump", "--json").json()["cases"]}
    assert held == sent and len(held) == 40
    assert set(held.values()) <= {"draft", "submitted"}
