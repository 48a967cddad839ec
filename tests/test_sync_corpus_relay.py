"""The hostile corpus, relayed segments: what a township could do to the village
segments it carries (re-sign, alter, relabel, list twice, reuse a held id), a
trusted village writing its neighbour's case inside one, a segment signed before its
key was revoked, and enrolments that try to move a village. docs/SYNC.md's "Hostile
corpus" lists every kind."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, run_cli
from tests.sync_helpers import CASE, VILLAGE2, Nodes, forge, three_nodes
from tests.test_sync_corpus import (
    case_line,
    district_titles,
    members_of,
    rejected,
    segment_refused,
)
from villagebook.services import cases
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync.identity import load_secret_key
from villagebook.sync.minisign import sign
from villagebook.sync.trust import own_key


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    with three_nodes(tmp_path) as found:
        cases.create_case(found.village, CASE)
        yield found


# --- relayed segments ----------------------------------------------------------

Members = dict[str, bytes]


def village_segment(village: Store, seq: int, payload: bytes) -> tuple[str, Members]:
    """A village's signed bundle to the township, as the three members a township
    relays byte for byte, with its segment id."""
    path = forge(village, village.home / f"seg-{seq}.vbundle", payload, seq=seq, plain=True)
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
                           title="同号不同内容"), overrides={"created_hlc": 2}, plain=True)
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
