"""Offices can check a bundle with standard tools alone: `age -d` opens it with the
receiving device's identity, `minisign -V` verifies the signed manifest, `sha256sum -c`
the payloads against the hashes it lists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import CASE, introduce, opened, send, three_nodes
from villagebook.domain.enums import ReviewDecision, Role
from villagebook.services import cases
from villagebook.sync.age_keys import identity_path
from villagebook.sync.identity import public_key_path
from villagebook.sync.merge import merge_file
from villagebook.sync.minisign import PublicKey

MINISIGN = shutil.which("minisign")
SHA256SUM = shutil.which("sha256sum")
AGE = shutil.which("age")


def test_minisign_and_sha256sum_check_a_relayed_bundle(tmp_path: Path) -> None:
    if not (MINISIGN and SHA256SUM and AGE):
        message = "needs age, minisign and sha256sum (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert MINISIGN and SHA256SUM and AGE
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        cases.submit_case(n.village, case_id)
        merge_file(n.township, send(n.village, tmp_path / "up"))
        cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "同意", "李")
        bundle = send(n.township, tmp_path / "relay")
        township_key = public_key_path(n.township.home)
        village_key = public_key_path(n.village.home)
        district_identity = identity_path(n.district.home / "keys")
    # The district's office opens the bundle with the stock `age` and its own identity.
    plain = tmp_path / "plain.zip"
    decrypted = subprocess.run([AGE, "-d", "-i", str(district_identity), "-o", str(plain),
                                str(bundle)], capture_output=True, text=True, check=False)
    assert decrypted.returncode == 0, decrypted.stderr
    out = tmp_path / "unpacked"
    with zipfile.ZipFile(plain) as zf:
        zf.extractall(out)  # our own, trusted test bundle
    checked = subprocess.run(
        [MINISIGN, "-V", "-H", "-p", str(township_key), "-m", "manifest.json",
         "-x", "manifest.minisig"], cwd=out, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert f"from {TOWNSHIP[0]} to 320117000000" in checked.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sums = [f"{manifest['payload']['sha256']}  changes.jsonl"]
    [relayed] = manifest["relayed"]
    folder = f"segments/{relayed['segment']}"
    for name, key in (("manifest.json", "manifest_sha256"),
                      ("manifest.minisig", "signature_sha256"),
                      ("changes.jsonl", "payload_sha256")):
        sums.append(f"{relayed[key]}  {folder}/{name}")
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    summed = subprocess.run([SHA256SUM, "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                            text=True, check=False)
    assert summed.returncode == 0, summed.stdout + summed.stderr
    # The village's own segment still carries the village's own signature.
    inner = subprocess.run(
        [MINISIGN, "-V", "-H", "-p", str(village_key), "-m", f"{folder}/manifest.json",
         "-x", f"{folder}/manifest.minisig"], cwd=out, capture_output=True, text=True,
        check=False)
    assert inner.returncode == 0, inner.stderr
    assert f"from {VILLAGE[0]} to {TOWNSHIP[0]}" in inner.stdout
    # And a tampered manifest fails the stock tool too.
    (out / "manifest.json").write_text("{}", encoding="utf-8")
    tampered = subprocess.run(
        [MINISIGN, "-V", "-p", str(township_key), "-m", "manifest.json", "-x",
         "manifest.minisig"], cwd=out, capture_output=True, check=False)
    assert tampered.returncode != 0


def test_minisign_checks_a_hand_over_of_a_second_laptop(tmp_path: Path) -> None:
    if not MINISIGN:
        if os.environ.get("CI"):
            pytest.fail("needs minisign (.ci/run installs it)")
        pytest.skip("needs minisign")
    assert MINISIGN
    with three_nodes(tmp_path) as n:
        laptop = make_node(tmp_path / "laptop2", Role.VILLAGE, VILLAGE)
        introduce(n.village, laptop)
        laptop.close()
        bundle = opened(n.township, send(n.village, tmp_path / "up"))
        first_key = public_key_path(n.village.home)
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    [enrolment] = manifest["enrolments"]
    key = enrolment["key"]
    line = f"villagebook-device {VILLAGE[0]} {key_id_of(key)} {key}"
    (tmp_path / "line.txt").write_text(line, encoding="utf-8")
    (tmp_path / "handover.minisig").write_text(enrolment["handover"], encoding="utf-8")
    checked = subprocess.run(
        [MINISIGN, "-V", "-H", "-p", str(first_key), "-m", "line.txt", "-x",
         "handover.minisig"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert line in checked.stdout


def key_id_of(key: str) -> str:
    """A minisign public key's id as minisign prints it."""
    return PublicKey.from_text(key).key_id_hex


def _need_age() -> str:
    if not AGE:
        if os.environ.get("CI"):
            pytest.fail("needs age (.ci/run installs it)")
        pytest.skip("needs age (Debian package age)")
    assert AGE
    return AGE


def test_a_stranger_with_age_but_not_the_identity_learns_nothing(tmp_path: Path) -> None:
    age = _need_age()
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        bundle = send(n.village, tmp_path / "stick")
        assert CASE["title"].encode() not in bundle.read_bytes()
        stranger = tmp_path / "stranger.txt"
        made = subprocess.run(["age-keygen", "-o", str(stranger)], capture_output=True,
                              check=False)
        assert made.returncode == 0
        tried = subprocess.run([age, "-d", "-i", str(stranger), str(bundle)],
                               capture_output=True, check=False)
        assert tried.returncode != 0 and tried.stdout == b""
        # The village's own identity cannot open what it sent either: only the township.
        own = subprocess.run([age, "-d", "-i", str(identity_path(n.village.home / "keys")),
                              str(bundle)], capture_output=True, check=False)
        assert own.returncode != 0


def test_a_bundle_encrypted_by_the_stock_age_to_our_recipient_merges(tmp_path: Path) -> None:
    age = _need_age()
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        plain = opened(n.township, send(n.village, tmp_path / "stick"))
        recipient = run_cli(n.township.home, "keys", "list", "--json").json()[0]["recipient"]
        assert recipient and recipient.startswith("age1")
        sealed_there = tmp_path / "by-age.vbundle"
        done = subprocess.run([age, "-r", recipient, "-o", str(sealed_there), str(plain)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        merged = run_cli(n.township.home, "merge", "--json", str(sealed_there))
        assert merged.code == 0, merged
        [result] = merged.json()["bundles"]
        assert result["status"] == "merged" and result["encrypted"] is True
        assert result["new"] >= 1
