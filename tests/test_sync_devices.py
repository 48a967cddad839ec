"""A unit's devices are vouched for by the unit itself: a township that makes up a
"second laptop" of one of its villages can neither write the village's records at
the district nor slip the key into the village's own trust store. A real second
laptop, handed over by the first, travels everywhere."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import (
    CASE,
    Nodes,
    change_line,
    forge,
    introduce,
    opened,
    refused,
    send,
    three_nodes,
)
from villagebook.domain.enums import ReviewDecision, Role
from villagebook.services import cases
from villagebook.store.node import Store
from villagebook.sync import handover
from villagebook.sync.identity import load_public_key, load_secret_key
from villagebook.sync.merge import merge_file
from villagebook.sync.trust import find_key, own_key

FORGED_TITLE = "镇里改写的标题"


def _case_at_the_district(n: Nodes, tmp_path: Path) -> str:
    """白马村 logs and submits a case; it reaches the district through the township."""
    case_id = cases.create_case(n.village, CASE)
    cases.submit_case(n.village, case_id)
    assert merge_file(n.township, send(n.village, tmp_path / "up")).status == "merged"
    assert merge_file(n.district, send(n.township, tmp_path / "relay")).status == "merged"
    return case_id


def _minted_laptop(n: Nodes, tmp_path: Path) -> Store:
    """The township makes a key of its own, set up as if it were 白马村's second laptop,
    and trusts it directly for 白马村 (its own trust store is its own business)."""
    minted = make_node(tmp_path / "minted", Role.VILLAGE, VILLAGE)
    introduce(n.township, minted)
    introduce(minted, n.township)  # so that what it "sends" is encrypted to the township
    return minted


def _rewrite(minted: Store, tmp_path: Path, case_id: str) -> Path:
    """A segment signed by the minted key that rewrites the case's title."""
    line = change_line(entity="case", record=case_id, hlc=minted.tick(),
                       device=minted.node.device_id, unit=VILLAGE[0],
                       fields={"title": FORGED_TITLE})
    return forge(minted, tmp_path / "minted.vbundle", line, receiver=TOWNSHIP[0])


def _enrolment(minted: Store, parent: str, signature: str | None = None) -> dict[str, Any]:
    listed: dict[str, Any] = {"key": load_public_key(minted.home).base64(),
                              "unit": VILLAGE[0], "parent": parent, "role": "village"}
    if signature is not None:
        listed["handover"] = signature
    return listed


def _relaying(township: Store, path: Path, minted: Store, segment: Path,
              enrolments: list[dict[str, Any]], receiver: str) -> Path:
    """What a dishonest township sends: its own signed bundle vouching for the minted key
    and carrying the minted key's segment, every hash in order."""
    with zipfile.ZipFile(opened(township, segment)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    segment_id = f"{own_key(minted).key_id}-{TOWNSHIP[0]}-1"
    prefix = f"segments/{segment_id}/"
    listed = {"segment": segment_id}
    for name, field in (("manifest.json", "manifest_sha256"),
                        ("manifest.minisig", "signature_sha256"),
                        ("changes.jsonl", "payload_sha256")):
        listed[field] = hashlib.sha256(members[name]).hexdigest()
    return forge(township, path, b"", receiver=receiver, seq=7,
                 overrides={"enrolments": enrolments, "relayed": [listed]},
                 extra={prefix + name: data for name, data in members.items()})


def test_a_township_cannot_write_a_villages_case_through_a_key_it_made(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = _case_at_the_district(n, tmp_path)
        minted = _minted_laptop(n, tmp_path)
        segment = _rewrite(minted, tmp_path, case_id)
        # The township's honest export neither vouches for the key nor relays its segment.
        assert merge_file(n.township, segment).status == "merged"
        assert cases.get_case(n.township, case_id)["title"] == FORGED_TITLE
        honest = merge_file(n.district, send(n.township, tmp_path / "honest"))
        assert honest.status == "merged", honest.error
        assert cases.get_case(n.district, case_id)["title"] == CASE["title"]
        assert find_key(n.district, own_key(minted).key_id) is None
        # Forged bundles vouching for it, with no hand-over or a made-up one, are refused.
        township_signed = handover.sign_handover(load_secret_key(n.township.home), VILLAGE[0],
                                                 load_public_key(minted.home))
        self_signed = handover.sign_handover(load_secret_key(minted.home), VILLAGE[0],
                                             load_public_key(minted.home))
        for number, signature in enumerate((None, township_signed, self_signed)):
            forged = _relaying(n.township, tmp_path / f"forged{number}.vbundle", minted, segment,
                               [_enrolment(minted, TOWNSHIP[0], signature)], DISTRICT[0])
            refused(n.district, forged, "no trusted device of that unit handed it over")
        # Without the enrolment, the district does not know the key at all: that segment
        # is refused alone, by name, and the rest of the township's bundle merges.
        bare = _relaying(n.township, tmp_path / "bare.vbundle", minted, segment, [], DISTRICT[0])
        alone = run_cli(n.district.home, "merge", "--json", str(bare))
        assert alone.code == 1, alone
        [report] = alone.json()["bundles"][0]["refused_segments"]
        assert (report["reason"], report["segment"].split("-")[0]) == \
            ("unknown_key", own_key(minted).key_id)
        assert cases.get_case(n.district, case_id)["title"] == CASE["title"]
        listed = run_cli(n.district.home, "merge", "--json", str(forged))
        assert listed.json()["bundles"][0]["reason"] == "no_handover"
        minted.close()


def test_a_village_never_takes_a_key_for_itself_from_its_township(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "up"))
        minted = _minted_laptop(n, tmp_path)
        minted_key = own_key(minted).key_id
        # The honest export down does not offer it.
        down = merge_file(n.village, send(n.township, tmp_path / "down", VILLAGE[0]))
        assert down.status == "merged", down.error
        assert find_key(n.village, minted_key) is None
        # A forged one that does is refused, the segment with it, and nothing changes.
        segment = _rewrite(minted, tmp_path, case_id)
        forged = _relaying(n.township, tmp_path / "forged.vbundle", minted, segment,
                           [_enrolment(minted, TOWNSHIP[0])], VILLAGE[0])
        refused(n.village, forged, "no trusted device of that unit handed it over")
        assert find_key(n.village, minted_key) is None
        assert cases.get_case(n.village, case_id)["title"] == CASE["title"]
        listed = run_cli(n.village.home, "keys", "list", "--json").json()
        assert minted_key not in {key["key_id"] for key in listed}
        minted.close()


def test_a_real_second_laptop_handed_over_by_the_first_travels_everywhere(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        laptop = make_node(tmp_path / "laptop2", Role.VILLAGE, VILLAGE)
        try:
            # The two laptops of 白马村 trust each other; the second trusts the township.
            done = run_cli(n.village.home, "keys", "trust", str(laptop.home / "keys" / "node.pub"),
                           "--unit", VILLAGE[0])
            assert done.code == 0, done.err
            introduce(laptop, n.village)
            introduce(laptop, n.township)
            laptop_key = own_key(laptop).key_id
            # The first laptop's bundle hands the second over to the township.
            assert merge_file(n.township, send(n.village, tmp_path / "a")).status == "merged"
            assert find_key(n.township, laptop_key) is not None
            # The second laptop's case reaches the township and, relayed, the district.
            case_id = cases.create_case(laptop, CASE)
            cases.submit_case(laptop, case_id)
            assert merge_file(n.township, send(laptop, tmp_path / "b")).status == "merged"
            cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "可推广", "李镇长")
            up = merge_file(n.district, send(n.township, tmp_path / "c"))
            assert up.status == "merged", up.error
            assert cases.get_case(n.district, case_id)["status"] == "approved"
            at_district = find_key(n.district, laptop_key)
            assert at_district is not None and at_district.handover_by == own_key(n.village).key_id
            # The first laptop learns the township's view: the second's case, approved.
            down = merge_file(n.village, send(n.township, tmp_path / "d", VILLAGE[0]))
            assert down.status == "merged", down.error
            assert cases.get_case(n.village, case_id)["status"] == "approved"
            listed = run_cli(n.district.home, "keys", "list").out
            assert f"handed over by {own_key(n.village).key_id}" in listed
        finally:
            laptop.close()


def test_a_laptop_handed_over_by_a_stolen_one_still_reaches_the_district(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        laptop = make_node(tmp_path / "laptop2", Role.VILLAGE, VILLAGE)
        try:
            introduce(n.village, laptop)
            introduce(laptop, n.village)
            introduce(laptop, n.township)
            assert merge_file(n.township, send(n.village, tmp_path / "a")).status == "merged"
            # The first laptop is stolen before the district ever heard of 白马村.
            done = run_cli(n.township.home, "keys", "revoke", own_key(n.village).key_id)
            assert done.code == 0, done.err
            case_id = cases.create_case(laptop, CASE)
            assert merge_file(n.township, send(laptop, tmp_path / "b")).status == "merged"
            up = merge_file(n.district, send(n.township, tmp_path / "c"))
            assert up.status == "merged", up.error
            assert cases.get_case(n.district, case_id)["title"] == CASE["title"]
            assert find_key(n.district, own_key(n.village).key_id) is None
        finally:
            laptop.close()
