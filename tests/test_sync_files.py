"""Evidence files travel in bundles: a village's photos reach the township and the
district byte for byte, each file once per receiver, verified against the
signature of the village that attached it; hostile file members are refused."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import docx
import pytest

from tests.conftest import TOWNSHIP, VILLAGE, run_cli
from tests.evidence_helpers import phone_photo, screenshot, stored_files
from tests.sync_helpers import (
    CASE,
    Nodes,
    change_line,
    forge,
    opened,
    send,
    state,
    three_nodes,
)
from villagebook.services import cases
from villagebook.store.node import Store


def _export(home: Path, folder: Path, *args: str) -> Path:
    result = run_cli(home, "export", "--out", str(folder), *args, check=True)
    return Path(result.out.strip().splitlines()[-1])


def _file_members(reader: Store, bundle: Path) -> list[str]:
    """The file members of a bundle, opened with its receiver's identity."""
    with zipfile.ZipFile(opened(reader, bundle)) as zf:
        return sorted(name for name in zf.namelist() if name.startswith("files/"))


def test_photos_reach_township_and_district_byte_for_byte_and_print_in_a_dossier(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        village, township, district = n.village.home, n.township.home, n.district.home
        case_id = cases.create_case(n.village, CASE)
        photos = [phone_photo(tmp_path / "before.jpg", size=(800, 600)),
                  phone_photo(tmp_path / "after.jpg", size=(800, 600), seed=90)]
        run_cli(village, "attach", "case", case_id, *map(str, photos), "--caption", "前后对比",
                check=True)
        held = stored_files(village)
        up = _export(village, tmp_path / "usb1")
        assert _file_members(n.township, up) == sorted(f"files/{p.name}" for p in held)
        assert run_cli(township, "merge", str(up)).code == 0
        assert run_cli(township, "check").code == 0
        listed = run_cli(township, "attachments", "case", case_id, "--json", check=True).json()
        out = tmp_path / "extracted.jpg"
        run_cli(township, "extract", listed[0]["id"], "--out", str(out), check=True)
        assert hashlib.sha256(out.read_bytes()).hexdigest() == listed[0]["sha256"]
        sha = listed[0]["sha256"]
        assert out.read_bytes() == (village / "files" / sha[:2] / sha).read_bytes()

        relay = _export(township, tmp_path / "usb2")
        # The village's files, relayed.
        assert _file_members(n.district, relay) == _file_members(n.township, up)
        assert run_cli(district, "merge", str(relay)).code == 0
        assert run_cli(district, "check").code == 0
        dossier = tmp_path / "dossier.docx"
        run_cli(district, "report", "--kind", "dossier", "--case", case_id, "--out",
                str(dossier), check=True)
        assert len(docx.Document(str(dossier)).inline_shapes) == 2


def test_a_file_the_receiver_acknowledged_is_never_carried_again(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        village, township, district = n.village.home, n.township.home, n.district.home
        case_id = cases.create_case(n.village, CASE)
        run_cli(village, "attach", "case", case_id, str(screenshot(tmp_path / "a.png")),
                check=True)
        first = _export(village, tmp_path / "usb1")
        assert len(_file_members(n.township, first)) == 1
        run_cli(township, "merge", str(first), check=True)
        relay = _export(township, tmp_path / "usb2")
        run_cli(district, "merge", str(relay), check=True)
        # The acknowledgements come back down and up again.
        run_cli(village, "merge", str(_export(township, tmp_path / "usb3", "--to",
                                              VILLAGE[0])), check=True)
        down = _export(district, tmp_path / "usb4", "--to", TOWNSHIP[0])
        run_cli(township, "merge", str(down), check=True)
        cases.update_case(n.village, case_id, {"title": "网格员走村入户收集民意（二）"})
        second = _export(village, tmp_path / "usb5")
        assert _file_members(n.township, second) == []
        run_cli(township, "merge", str(second), check=True)
        assert _file_members(n.district, _export(township, tmp_path / "usb6")) == []
        # A full bundle (a receiver rebuilt from scratch) carries everything again.
        assert len(_file_members(n.township, _export(village, tmp_path / "usb7", "--full"))) == 1


DATA = b"\xff\xd8\xff\xe0 not really a photo, but bytes all the same"
SHA = hashlib.sha256(DATA).hexdigest()


def _attachment_bundle(n: Nodes, path: Path, case_id: str, *, files: object,
                       carries: object, members: dict[str, bytes], sha256: str = SHA,
                       seq: int = 2) -> Path:
    values = {"unit_code": n.village.node.unit_code, "record_kind": "case",
              "record_id": case_id, "caption": "前", "kind": "photo", "name": "a.jpg",
              "size": len(DATA), "sha256": sha256, "attached_by": "x",
              "attached_at": "2026-11-01T10:00:00+00:00"}
    line = change_line(entity="attachment", record="0bcf9752-61f5-55cd-9d0d-579508816301",
                       hlc=(1_790_000_000_000 << 16) + seq, device=n.village.node.device_id,
                       unit=n.village.node.unit_code, fields=values)
    return forge(n.village, path, line, seq=seq, overrides={"files": files, "carries": carries},
                 extra=members)


_LISTED = [{"sha256": SHA, "size": len(DATA)}]
_BOMB = bytes(8 << 20)  # 8 MB of zeros deflate to a few kB: a ratio far past the cap
_BOMB_SHA = hashlib.sha256(_BOMB).hexdigest()
HOSTILE = {
    "bytes_not_matching_their_hash": (
        dict(files=_LISTED, carries=_LISTED, members={f"files/{SHA}": b"other bytes"}),
        "hash_mismatch"),
    "listed_but_missing": (dict(files=_LISTED, carries=_LISTED, members={}),
                           "missing_member"),
    "unlisted_extra_file": (
        dict(files=_LISTED, carries=_LISTED,
             members={f"files/{SHA}": DATA, f"files/{'0' * 64}": b"extra"}), "bad_member"),
    "huge_declared_size": (
        dict(files=_LISTED, carries=[{"sha256": SHA, "size": 10 << 30}],
             members={f"files/{SHA}": DATA}), "too_large"),
    "decompression_bomb": (
        dict(files=[{"sha256": _BOMB_SHA, "size": len(_BOMB)}],
             carries=[{"sha256": _BOMB_SHA, "size": len(_BOMB)}],
             members={f"files/{_BOMB_SHA}": _BOMB}, sha256=_BOMB_SHA), "too_large"),
    "more_files_than_a_bundle_may_carry": (
        dict(files=_LISTED, carries=[{"sha256": f"{n:064x}", "size": 50 << 20}
                                     for n in range(45)], members={}), "too_large"),
    "record_points_at_an_unlisted_file": (
        dict(files=[], carries=[], members={}), "missing_file"),
    "listed_file_neither_carried_nor_held": (
        dict(files=_LISTED, carries=[], members={}), "missing_file"),
    "member_name_not_a_hash": (
        dict(files=_LISTED, carries=_LISTED,
             members={f"files/{SHA}": DATA, f"files/{SHA}\n": DATA}), "bad_member"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_members_are_refused_and_nothing_changes(tmp_path: Path,
                                                              case: str) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        run_cli(n.township.home, "merge", str(send(n.village, tmp_path / "usb")), check=True)
        kwargs, reason = HOSTILE[case]
        bundle = _attachment_bundle(n, tmp_path / "hostile.vbundle", case_id, **kwargs)
        before = state(n.township)
        result = run_cli(n.township.home, "merge", "--json", str(bundle))
        assert result.code == 1, result
        assert "Traceback" not in result.err
        assert result.json()["bundles"][0]["reason"] == reason, result
        assert state(n.township) == before
        assert stored_files(n.township.home) == []
        temp = n.township.home / "files" / "tmp"
        assert not temp.exists() or list(temp.iterdir()) == []  # no half-written file


def test_a_well_formed_file_member_merges(tmp_path: Path) -> None:
    """The forged bundles above differ from this one only in what they break."""
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        run_cli(n.township.home, "merge", str(send(n.village, tmp_path / "usb")), check=True)
        bundle = _attachment_bundle(n, tmp_path / "good.vbundle", case_id, files=_LISTED,
                                    carries=_LISTED, members={f"files/{SHA}": DATA})
        assert run_cli(n.township.home, "merge", str(bundle)).code == 0
        assert run_cli(n.township.home, "check").code == 0


def test_an_attachment_on_another_units_record_is_refused(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        township_case = cases.create_case(n.township, CASE)
        bundle = _attachment_bundle(n, tmp_path / "other.vbundle", township_case,
                                    files=_LISTED, carries=_LISTED,
                                    members={f"files/{SHA}": DATA}, seq=1)
        before = state(n.township)
        result = run_cli(n.township.home, "merge", "--json", str(bundle))
        assert result.code == 1 and result.json()["bundles"][0]["reason"] == "wrong_owner"
        assert state(n.township) == before


def _held_files_match_their_names(home: Path) -> bool:
    return all(hashlib.sha256(p.read_bytes()).hexdigest() == p.name
               for p in stored_files(home))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_during_a_merge_with_files_leaves_no_half_file_and_a_retry_completes(
        tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from villagebook.services import attachments

    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        documents = []
        for number in range(12):
            path = tmp_path / f"scan{number}.bin"
            path.write_bytes(os.urandom(4 << 20))
            documents.append(path)
        attachments.attach(n.village, "case", case_id, documents, caption="扫描件")
        bundle = send(n.village, tmp_path / "stick")
        township = n.township.home
        env = {k: v for k, v in os.environ.items() if k != "VILLAGEBOOK_HOME"}
        for delay in (0.4, 0.8, 1.0, 1.2, 1.3, 1.4, 1.5, 1.7):
            process = subprocess.Popen(
                [sys.executable, "-m", "villagebook", "--home", str(township), "--lang", "en",
                 "merge", str(bundle)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env)
            time.sleep(delay)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()
            # Every file under its name is whole; every record held has its file.
            assert _held_files_match_their_names(township)
            checked = run_cli(township, "check")
            assert checked.code == 0, checked
        again = run_cli(township, "merge", str(bundle))
        assert again.code == 0, again
        listed = run_cli(township, "attachments", "case", case_id, "--json", check=True).json()
        assert len(listed) == 12
        assert run_cli(township, "check").code == 0
        assert len(stored_files(township)) == 12 and _held_files_match_their_names(township)


def test_an_export_past_the_per_bundle_cap_is_refused_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from villagebook.services import attachments
    from villagebook.services.errors import Refused
    from villagebook.sync import format as fmt

    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        attachments.attach(n.village, "case", case_id, [screenshot(tmp_path / "a.png")])
        before = state(n.village)
        monkeypatch.setattr(fmt, "MAX_FILES_BYTES", 100)  # a cap one small file passes
        with pytest.raises(Refused) as refusal:
            send(n.village, tmp_path / "usb")
        assert "more than one bundle may carry (0 MB, 10000 files)" in str(refusal.value)
        assert "no bundle was written" in str(refusal.value)
        assert list((tmp_path / "usb").glob("*")) == []
        assert state(n.village) == before


def test_verify_hashes_the_files_and_writes_nothing(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        run_cli(n.village.home, "attach", "case", case_id, str(screenshot(tmp_path / "a.png")),
                check=True)
        bundle = _export(n.village.home, tmp_path / "usb")
        before = state(n.township)
        assert run_cli(n.township.home, "verify", str(bundle)).code == 0
        assert state(n.township) == before and stored_files(n.township.home) == []
        temp = n.township.home / "files" / "tmp"
        assert not temp.exists() or list(temp.iterdir()) == []
