"""Bundles only their receiver can read (issue 11): every bundle is encrypted, in the
age format, to the devices of the unit it is for; merge and verify decrypt it
inside the home and refuse, by reason, what this laptop cannot or should not open."""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyrage
import pytest
from pyrage import x25519

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, run_cli
from tests.sync_helpers import CASE, Nodes, forge, introduce, send, state, three_nodes
from villagebook.services import cases
from villagebook.services.errors import Refused
from villagebook.store.node import Store
from villagebook.sync import sealed
from villagebook.sync.age_keys import LINE_PREFIX, bind, identity_path
from villagebook.sync.identity import load_secret_key, public_key_path
from villagebook.sync.merge import merge_file
from villagebook.sync.minisign import SecretKey
from villagebook.sync.trust import own_key


def _rejected(home: Path, bundle: Path, reason: str) -> str:
    """Merging `bundle` fails with `reason`, nothing changes, no plaintext stays."""
    with Store(home) as store:
        before = state(store)
    result = run_cli(home, "merge", "--json", str(bundle))
    assert result.code == 1, result
    assert "Traceback" not in result.err
    [found] = result.json()["bundles"]
    assert found["reason"] == reason, found
    with Store(home) as store:
        assert state(store) == before
    assert not list((home / sealed.SCRATCH_DIR).glob("*"))
    return str(found["message"])


def test_a_bundle_on_the_stick_is_encrypted_and_only_its_receiver_merges_it(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        homes = n.village.home, n.township.home
    village, township = homes
    stick = tmp_path / "stick"
    bundle = Path(run_cli(village, "export", "--out", str(stick), check=True).out.strip())
    raw = bundle.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n")
    assert CASE["title"].encode() not in raw and b"manifest.json" not in raw
    assert [p.name for p in stick.iterdir()] == [bundle.name]  # no plaintext on the stick
    checked = run_cli(township, "verify", "--json", str(bundle), check=True)
    assert checked.json()["bundles"][0]["encrypted"] is True
    merged = run_cli(township, "merge", "--json", str(bundle), check=True)
    [result] = merged.json()["bundles"]
    assert result["status"] == "merged" and result["encrypted"] is True and result["new"] >= 1
    assert list((township / sealed.SCRATCH_DIR).iterdir()) == []


def test_a_bundle_for_another_office_names_its_receiver(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file_cli(n.township, send(n.village, tmp_path / "up"))
        merge_file_cli(n.district, send(n.township, tmp_path / "relay"))  # units known there
        cases.create_case(n.village, {**CASE, "title": "第二个"})
        for_township = send(n.village, tmp_path / "again")
        district = n.district.home
    assert for_township.name.endswith(f"-{TOWNSHIP[0]}-0002.vbundle")
    message = _rejected(district, for_township, "not_for_this_device")
    assert message == f"This bundle is for {TOWNSHIP[1]}; this laptop cannot open it"
    zh = run_cli(district, "merge", str(for_township), lang="zh")
    assert f"这个数据包是给{TOWNSHIP[1]}的；这台电脑打不开它" in zh.err
    renamed = tmp_path / "found-on-a-stick.vbundle"
    shutil.copyfile(for_township, renamed)
    assert "not encrypted to this laptop's key" in _rejected(district, renamed,
                                                             "not_for_this_device")


def merge_file_cli(store: Store, bundle: Path) -> None:
    """Merge on the command line, as an office does."""
    run_cli(store.home, "merge", str(bundle), check=True)


def test_a_damaged_or_truncated_encrypted_bundle_is_refused(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        bundle = send(n.village, tmp_path / "up")
        township = n.township.home
    raw = bundle.read_bytes()
    flipped = tmp_path / "flipped.vbundle"
    flipped.write_bytes(raw[:-40] + bytes([raw[-40] ^ 1]) + raw[-39:])
    assert "damaged or truncated" in _rejected(township, flipped, "damaged_encrypted")
    for keep in (0.1, 0.6, 0.99):
        cut = tmp_path / f"cut-{keep}.vbundle"
        cut.write_bytes(raw[: int(len(raw) * keep)])
        _rejected(township, cut, "damaged_encrypted")
    assert run_cli(township, "merge", str(bundle)).code == 0  # the intact one still merges


def _stanza() -> bytes:
    share = base64.b64encode(os.urandom(32)).rstrip(b"=")
    body = base64.b64encode(os.urandom(32)).rstrip(b"=")
    return b"-> X25519 " + share + b"\n" + body + b"\n"


def test_a_header_with_thousands_of_recipients_is_refused_before_any_key_work(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        township = n.township.home
    crowd = tmp_path / "crowd.vbundle"
    crowd.write_bytes(sealed.MAGIC + _stanza() * 5000 + b"--- " + b"A" * 43 + b"\n" + b"x" * 64)
    message = _rejected(township, crowd, "too_many_recipients")
    assert f"more than {sealed.MAX_STANZAS} recipients" in message
    # At the cap, the header is read and the keys are tried: not for this laptop.
    within = tmp_path / "within.vbundle"
    within.write_bytes(sealed.MAGIC + _stanza() * sealed.MAX_STANZAS + b"--- " + b"A" * 43
                       + b"\n" + b"x" * 64)
    _rejected(township, within, "not_for_this_device")


def test_a_passphrase_or_unknown_stanza_is_refused(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        township = n.township.home
    mac = b"--- " + b"A" * 43 + b"\n" + b"x" * 64
    scrypt = tmp_path / "passphrase.vbundle"
    scrypt.write_bytes(sealed.MAGIC + b"-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\n"
                       + b"A" * 43 + b"\n" + mac)
    assert "passphrase" in _rejected(township, scrypt, "passphrase_encrypted")
    ssh = tmp_path / "ssh.vbundle"
    ssh.write_bytes(sealed.MAGIC + b"-> ssh-ed25519 Zm9v " + b"A" * 43 + b"\n" + b"A" * 43
                    + b"\n" + mac)
    assert "(ssh-ed25519)" in _rejected(township, ssh, "unknown_stanza")


def test_a_plain_bundle_is_refused_where_every_neighbour_can_encrypt(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        homes = n.village.home, n.township.home
    village, township = homes
    plain = Path(run_cli(village, "export", "--plain", "--out", str(tmp_path / "p"),
                         check=True).out.strip())
    assert plain.read_bytes()[:2] == b"PK"  # the signed zip of today, as it is
    assert "without --plain" in _rejected(township, plain, "not_encrypted")
    run_cli(township, "keys", "require-encryption", "never", check=True)
    merged = run_cli(township, "merge", "--json", str(plain), check=True).json()
    assert merged["bundles"][0]["status"] == "merged"
    assert merged["bundles"][0]["encrypted"] is False


def _old_home(home: Path) -> None:
    """Make `home` look like one set up before encryption: no identity, two-line key file."""
    identity_path(home / "keys").unlink()
    path = public_key_path(home)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:2]), encoding="utf-8")


def test_an_older_home_gets_its_identity_on_first_start_and_tells_its_township(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        homes = n.village.home, n.township.home
    village, township = homes
    # Both set up before this change: the township trusted a two-line key file.
    _old_home(village)
    with Store(township) as store:
        store.conn.execute("UPDATE sync_key SET recipient = NULL")
        store.conn.commit()
    listed = run_cli(township, "keys", "list", "--json", check=True).json()
    assert next(k for k in listed if k["unit"] == VILLAGE[0])["can_encrypt"] is False
    assert "no encryption key known" in run_cli(township, "keys", "list", check=True).out
    refused = run_cli(township, "export", "--to", VILLAGE[0])
    assert refused.code == 1 and "--plain" in refused.err and "Traceback" not in refused.err
    shown = run_cli(village, "keys", "show", check=True).out  # the first start
    assert identity_path(village / "keys").is_file()
    [line] = [x for x in shown.splitlines() if x.startswith("Encryption recipient (age): age1")]
    assert public_key_path(village).read_text(encoding="utf-8").splitlines()[2].startswith(
        LINE_PREFIX + line.split(": ")[1])
    # Its next bundle (encrypted: it knows the township's recipient) carries its own
    # recipient, signed by its key: the township can encrypt to it from now on.
    up = Path(run_cli(village, "export", "--out", str(tmp_path / "up"), check=True).out.strip())
    assert up.read_bytes().startswith(sealed.MAGIC)
    run_cli(township, "merge", str(up), check=True)
    listed = run_cli(township, "keys", "list", "--json", check=True).json()
    assert next(k for k in listed if k["unit"] == VILLAGE[0])["can_encrypt"] is True


def test_a_recipient_not_signed_by_its_key_is_never_believed(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        village_home, township = n.village.home, n.township.home
        village_key = public_key_path(village_home).read_text(encoding="utf-8")
    forged = tmp_path / "forged.pub"
    impostor = bind(SecretKey.generate(), "age1" + "q" * 58)
    lines = village_key.splitlines()
    forged.write_text("\n".join([*lines[:2], LINE_PREFIX + impostor.text()]) + "\n",
                      encoding="utf-8")
    result = run_cli(township, "keys", "trust", str(forged), "--unit", VILLAGE[0])
    assert result.code == 1 and "not signed by its key" in result.err
    assert "Traceback" not in result.err


def test_a_revoked_device_is_no_longer_a_recipient(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        township, district = n.township.home, n.district.home
    district_key = run_cli(district, "keys", "list", "--json", check=True).json()[0]["key_id"]
    run_cli(township, "keys", "revoke", district_key, check=True)
    result = run_cli(township, "export")
    assert result.code == 1 and f"No device of unit {DISTRICT[0]}" in result.err


def test_plaintext_left_by_a_crash_is_swept_on_the_next_start(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        township = n.township.home
    scratch = township / sealed.SCRATCH_DIR
    scratch.mkdir(exist_ok=True)
    leftover = scratch / "0123456789abcdef.zip"
    leftover.write_bytes(b"PK plaintext of a merge killed half-way")
    hour_ago = time.time() - 3600
    os.utime(leftover, (hour_ago, hour_ago))
    run_cli(township, "keys", "show", check=True)
    assert not leftover.exists()


def test_a_township_reencrypts_what_it_relays_to_the_district(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        nodes: Nodes = n
        up = send(nodes.village, tmp_path / "up")
        merge_file_cli(nodes.township, up)
        relay = send(nodes.township, tmp_path / "relay")
        district, village = nodes.district.home, nodes.village.home
        introduce(nodes.village, nodes.district)  # even knowing the district's key...
    assert relay.read_bytes().startswith(sealed.MAGIC)
    merged = run_cli(district, "merge", "--json", str(relay), check=True).json()["bundles"][0]
    assert merged["encrypted"] is True and VILLAGE[0] in merged["origins"]
    # ... the village cannot open what the township passed up.
    assert run_cli(village, "verify", "--json", str(relay)).json()["bundles"][0]["reason"] \
        == "not_for_this_device"


def test_a_villages_recipient_reaches_the_district_through_its_townships_enrolment(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        cases.create_case(n.village, CASE)
        merge_file_cli(n.township, send(n.village, tmp_path / "up"))
        merge_file_cli(n.district, send(n.township, tmp_path / "relay"))
        district = n.district.home
        village_recipient = run_cli(n.village.home, "keys", "list", "--json",
                                    check=True).json()[0]["recipient"]
    listed = run_cli(district, "keys", "list", "--json", check=True).json()
    [village] = [k for k in listed if k["unit"] == VILLAGE[0]]
    assert village["enrolled_by"] and village["can_encrypt"] is True
    assert village["recipient"] == village_recipient


def test_an_encrypted_export_onto_a_full_stick_says_so_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stick = tmp_path / "stick"
    with three_nodes(tmp_path / "nodes") as n:
        cases.create_case(n.village, CASE)
        real = pyrage.encrypt_file

        def full(infile: str, outfile: str, recipients: list[Any]) -> None:
            real(infile, outfile, recipients)  # rage's own report of a full disk:
            raise pyrage.EncryptError("No space left on device (os error 28)")

        monkeypatch.setattr(pyrage, "encrypt_file", full)
        with pytest.raises(Refused) as refused:
            send(n.village, stick)
        assert "There is no room for the bundle" in str(refused.value)
        assert list(stick.iterdir()) == []
        assert list((n.village.home / sealed.SCRATCH_DIR).iterdir()) == []
        monkeypatch.undo()
        assert send(n.village, stick).name.endswith("-0001.vbundle")  # no number used up


def test_a_bundle_cannot_slip_in_a_recipient_its_key_did_not_sign(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        key = own_key(n.village)
        before = run_cli(n.township.home, "keys", "list", "--json", check=True).json()
        spy = x25519.Identity.generate()
        # Signed by some other key: the village's own manifest cannot vouch for it.
        wrong = bind(SecretKey.generate(), str(spy.to_public()))
        origin = {"unit": key.unit, "role": key.role, "key_id": key.key_id,
                  "device": n.village.node.device_id, "recipient": wrong.text()}
        bundle = forge(n.village, tmp_path / "spy.vbundle", b"", sets=0, changes=0,
                       overrides={"origin": origin})
        assert merge_file(n.township, bundle).status == "merged"
        after = run_cli(n.township.home, "keys", "list", "--json", check=True).json()
        assert after == before
        # The same field signed by the village's own key is believed (a new identity).
        right = bind(load_secret_key(n.village.home), str(spy.to_public()))
        bundle = forge(n.village, tmp_path / "new.vbundle", b"", seq=2, sets=0, changes=0,
                       overrides={"origin": {**origin, "recipient": right.text()}})
        assert merge_file(n.township, bundle).status == "merged"
        [village] = [k for k in run_cli(n.township.home, "keys", "list", "--json",
                                        check=True).json() if k["unit"] == VILLAGE[0]]
        assert village["recipient"] == str(spy.to_public())
