"""Two laptops of one village (the secretary's and the clerk's) exchange bundles
directly, with the same signatures, encryption and acknowledgements as any bundle;
a new laptop is filled from the township's full bundle and carries on the work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import VILLAGE, make_node, run_cli
from tests.sync_helpers import CASE, Nodes, introduce, send, three_nodes
from villagebook.domain.enums import ReviewDecision, Role
from villagebook.services import cases
from villagebook.services.dump import dump_json
from villagebook.store.node import Store
from villagebook.sync import sealed
from villagebook.sync.merge import merge_file
from villagebook.sync.trust import own_key


def _pair(n: Nodes, home: Path) -> Store:
    """A second laptop of 白马村, set up as docs/SYNC.md says: the first hands it over
    (keys trust its file for the own unit), it trusts the first and the township."""
    laptop = make_node(home, Role.VILLAGE, VILLAGE)
    done = run_cli(n.village.home, "keys", "trust", str(laptop.home / "keys" / "node.pub"),
                   "--unit", VILLAGE[0])
    assert done.code == 0, done.err
    introduce(laptop, n.village)
    introduce(laptop, n.township)
    return laptop


@contextmanager
def _two_laptops(tmp_path: Path) -> Iterator[tuple[Nodes, Store]]:
    with three_nodes(tmp_path) as n:
        laptop = _pair(n, tmp_path / "laptop2")
        try:
            yield n, laptop
        finally:
            laptop.close()


def test_a_laptop_exports_to_its_own_unit_and_the_other_laptop_merges(tmp_path: Path) -> None:
    with _two_laptops(tmp_path) as (n, laptop):
        case_id = cases.create_case(n.village, CASE)
        done = run_cli(n.village.home, "export", "--to", VILLAGE[0],
                       "--out", str(tmp_path / "stick"))
        assert done.code == 0, done.err
        bundle = Path(done.out.strip().splitlines()[-1])
        # Encrypted (age) to the other laptop, as any bundle.
        assert sealed.is_sealed(bundle.read_bytes()[:64])
        merged = merge_file(laptop, bundle)
        assert merged.status == "merged", merged.error
        assert merged.encrypted
        assert cases.get_case(laptop, case_id)["title"] == CASE["title"]
        # The clerk corrects the case; the correction goes back the same way.
        cases.update_case(laptop, case_id, {"results": "走访农户326户"})
        back = merge_file(n.village, send(laptop, tmp_path / "back", VILLAGE[0]))
        assert back.status == "merged", back.error
        assert cases.get_case(n.village, case_id)["results"] == "走访农户326户"
        assert dump_json(n.village) == dump_json(laptop)
        # The acknowledgement came back: nothing of the first laptop's goes again.
        again = send(n.village, tmp_path / "again", VILLAGE[0])
        assert merge_file(laptop, again).status == "merged"
        assert run_cli(n.village.home, "status", "--json").code == 0


def test_the_township_merges_both_laptops_in_any_order_without_conflict(
        tmp_path: Path) -> None:
    with _two_laptops(tmp_path) as (n, laptop):
        # The township hears of the second laptop from the first (its hand-over).
        assert merge_file(n.township, send(n.village, tmp_path / "0")).status == "merged"
        case_id = cases.create_case(n.village, CASE)
        merge_file(laptop, send(n.village, tmp_path / "a", VILLAGE[0]))
        cases.update_case(laptop, case_id, {"results": "办结时间缩短3天"})
        cases.submit_case(laptop, case_id)
        merge_file(n.village, send(laptop, tmp_path / "b", VILLAGE[0]))
        # Each laptop sends to the township; the second's bundle arrives first.
        from_laptop = send(laptop, tmp_path / "c")
        from_first = send(n.village, tmp_path / "d")
        for bundle in (from_laptop, from_first):
            result = merge_file(n.township, bundle)
            assert result.status == "merged", result.error
            assert not result.refused_anything
        assert n.township.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] == 0
        assert cases.get_case(n.township, case_id)["status"] == "submitted"
        cases.review_case(n.township, case_id, ReviewDecision.RETURN, "请补充数据", "李镇长")
        down = send(n.township, tmp_path / "e", VILLAGE[0])
        for store in (n.village, laptop):
            assert merge_file(store, down).status == "merged"
        assert dump_json(n.village) == dump_json(laptop)


def test_export_to_the_own_unit_needs_another_trusted_laptop(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        done = run_cli(n.village.home, "export", "--to", VILLAGE[0],
                       "--out", str(tmp_path / "stick"))
        assert done.code == 1
        assert "No other device of unit" in done.err and "keys trust" in done.err
        assert "Traceback" not in done.err
        assert not (tmp_path / "stick").exists() or not any((tmp_path / "stick").iterdir())


def test_a_new_laptop_filled_from_the_townships_full_bundle_carries_on(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        first = cases.create_case(n.village, CASE)
        cases.submit_case(n.village, first)
        second = cases.create_case(n.village, {**CASE, "title": "村务公开二维码"})
        merge_file(n.township, send(n.village, tmp_path / "up"))
        cases.review_case(n.township, first, ReviewDecision.APPROVE, "可推广", "李镇长")
        merge_file(n.village, send(n.township, tmp_path / "down", VILLAGE[0]))
        # The clerk's new laptop: the secretary's hands it over; the township hears
        # of it with the secretary's next bundle.
        laptop = _pair(n, tmp_path / "laptop2")
        try:
            merge_file(n.township, send(n.village, tmp_path / "handover"))
            full = run_cli(n.township.home, "export", "--to", VILLAGE[0], "--full",
                           "--out", str(tmp_path / "full"))
            assert full.code == 0, full.err
            filled = merge_file(laptop, Path(full.out.strip().splitlines()[-1]))
            assert filled.status == "merged", filled.error
            assert dump_json(laptop) == dump_json(n.village)
            assert own_key(laptop).device_id != own_key(n.village).device_id
            # It carries on: corrects the draft, submits it, sends it to the township.
            cases.update_case(laptop, second, {"results": "群众满意率98%"})
            cases.submit_case(laptop, second)
            result = merge_file(n.township, send(laptop, tmp_path / "next"))
            assert result.status == "merged", result.error
            assert not result.refused_anything
            assert n.township.conn.execute("SELECT count(*) FROM conflict").fetchone()[0] == 0
            assert cases.get_case(n.township, second)["status"] == "submitted"
            # The secretary's laptop learns it through the township.
            merge_file(n.village, send(n.township, tmp_path / "back", VILLAGE[0]))
            assert dump_json(n.village) == dump_json(laptop)
        finally:
            laptop.close()
