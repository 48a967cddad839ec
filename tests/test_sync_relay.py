"""Relays keep end-to-end provenance: a township can carry its villages' segments
but cannot alter them, nor write its villages' records in its own name."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE
from tests.sync_helpers import CASE, change_line, forge, refused, send, state, three_nodes
from villagebook.services import cases
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync.identity import load_secret_key
from villagebook.sync.merge import merge_file
from villagebook.sync.minisign import sign
from villagebook.sync.trust import find_key, revoke_key


def _resign(township: Store, source: Path, target: Path, segment_payload: bytes) -> Path:
    """What a dishonest township would do: alter a village's segment, fix the
    outer hashes, and sign the outer manifest again with its own (trusted) key."""
    with zipfile.ZipFile(source) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members[fmt.MANIFEST])
    [relayed] = manifest["relayed"]
    name = f"segments/{relayed['segment']}/changes.jsonl"
    members[name] = segment_payload
    relayed["payload_sha256"] = hashlib.sha256(segment_payload).hexdigest()
    raw = json.dumps(manifest, ensure_ascii=False).encode()
    members[fmt.MANIFEST] = raw
    members[fmt.SIGNATURE] = sign(load_secret_key(township.home), raw, fmt.trusted_comment(
        TOWNSHIP[0], DISTRICT[0], manifest["seq"])).encode()
    with zipfile.ZipFile(target, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return target


def test_a_township_cannot_alter_a_village_segment_it_relays(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "up"))
        relay = send(n.township, tmp_path / "relay", plain=True)
        with zipfile.ZipFile(relay) as zf:
            [payload] = [zf.read(x) for x in zf.namelist() if x.startswith("segments/")
                         and x.endswith("changes.jsonl")]
        altered = payload.replace(CASE["title"].encode(), "篡改后的标题".encode())
        forged = _resign(n.township, relay, tmp_path / "forged.vbundle", altered)
        refused(n.district, forged, "does not match its hash")


def test_a_township_cannot_write_a_villages_case_in_its_own_name(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        line = change_line(entity="case", record="0199aaaa-0000-7000-8000-000000000009",
                           hlc=1_790_000_000_000 << 16, device=n.township.node.device_id,
                           unit=VILLAGE[0], fields={"unit_code": VILLAGE[0], "title": "代写",
                                                    "lead_person": "某", "direction": "process"})
        bundle = forge(n.township, tmp_path / "t.vbundle", line, receiver=DISTRICT[0])
        refused(n.district, bundle, "may not write")


def test_a_revocation_travels_up_with_the_townships_bundle(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "up"))
        merge_file(n.district, send(n.township, tmp_path / "relay"))
        village_key = next(k for k in (find_key(n.district, row[0]) for row in
                                       n.district.conn.execute("SELECT key_id FROM sync_key"))
                           if k and k.unit == VILLAGE[0])
        revoke_key(n.township, village_key.key_id)
        before = state(n.district)
        assert merge_file(n.district, send(n.township, tmp_path / "relay2")).status == "merged"
        assert state(n.district) != before
        again = find_key(n.district, village_key.key_id)
        assert again is not None and again.revoked
        # What the village signed before stays at the district.
        assert n.district.conn.execute("SELECT count(*) FROM innovation_case").fetchone() == (1,)


def test_a_township_cannot_enrol_a_key_for_another_townships_village(tmp_path: Path) -> None:
    from tests.conftest import make_node
    from tests.sync_helpers import introduce
    from villagebook.domain.enums import Role
    from villagebook.sync.identity import load_public_key

    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file(n.township, send(n.village, tmp_path / "up"))
        merge_file(n.district, send(n.township, tmp_path / "relay"))
        rogue = make_node(tmp_path / "rogue", Role.TOWNSHIP, ("320117200000", "东屏街道",
                                                              DISTRICT[0]))
        introduce(n.district, rogue)
        impostor = make_node(tmp_path / "impostor", Role.VILLAGE,
                             (VILLAGE[0], "白马村", "320117200000"))
        enrolment = {"key": load_public_key(impostor.home).base64(), "unit": VILLAGE[0],
                     "parent": "320117200000", "role": "village"}
        bundle = forge(rogue, tmp_path / "rogue.vbundle", b"", receiver=DISTRICT[0],
                       overrides={"enrolments": [enrolment]})
        rogue.close()
        impostor.close()
        refused(n.district, bundle, "which is under unit 320117100000 here")
