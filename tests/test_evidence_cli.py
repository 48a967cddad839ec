"""Evidence files from the command line: a village secretary attaches the photos and
scans of a case, lists them, takes one out, removes one; hostile files are refused."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import run_cli
from tests.evidence_helpers import (
    GPS_IFD,
    ORIENTATION,
    decompression_bomb,
    phone_photo,
    program_as_photo,
    screenshot,
    sha256_of,
    stored_files,
)

VILLAGE_ARGS = ("init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
                "--parent", "320117100000")
CASE = ("title=网格员走村入户", "lead_person=王芳", "direction=implementation")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "baima"
    run_cli(home, *VILLAGE_ARGS, check=True)
    run_cli(home, "demo", "--cases", "2", "--problems", "2", check=True)
    return home


def _first(home: Path, section: str) -> str:
    return str(run_cli(home, "dump", "--json", check=True).json()[section][0]["id"])


def _listed(home: Path, kind: str, record_id: str) -> list[dict[str, object]]:
    result = run_cli(home, "attachments", kind, record_id, "--json", check=True)
    listed: list[dict[str, object]] = result.json()
    return listed


def test_secretary_attaches_a_phone_photo_reduced_upright_and_without_location(
        home: Path, tmp_path: Path) -> None:
    case_id = _first(home, "cases")
    photo = phone_photo(tmp_path / "IMG_0001.jpg")
    result = run_cli(home, "attach", "case", case_id, str(photo), "--caption", "修路前")
    assert result.code == 0, result
    assert "IMG_0001.jpg" in result.out
    [item] = _listed(home, "case", case_id)
    assert (item["caption"], item["kind"], item["name"], item["media_type"]) == \
        ("修路前", "photo", "IMG_0001.jpg", "image/jpeg")
    assert item["taken_date"] == "2026-05-01"
    assert str(item["attached_by"]).startswith("320117100201/")
    [stored] = stored_files(home)
    assert stored.name == item["sha256"] == sha256_of(stored)
    assert stored.parent.name == stored.name[:2] and item["size"] == stored.stat().st_size
    with Image.open(stored) as image:
        assert image.size == (1536, 2048)  # turned upright, longest side 2048
        exif = image.getexif()
        assert not exif.get_ifd(GPS_IFD) and ORIENTATION not in exif
    dumped = run_cli(home, "dump", "--json", check=True).json()["attachments"]
    assert [a["id"] for a in dumped] == [item["id"]] and dumped[0]["sha256"] == item["sha256"]
    assert run_cli(home, "check").code == 0


def test_the_same_photo_reduces_to_the_same_bytes_and_is_stored_once(home: Path,
                                                                      tmp_path: Path) -> None:
    case_id, problem_id = _first(home, "cases"), _first(home, "problems")
    photo = phone_photo(tmp_path / "a.jpg", size=(3000, 2000))
    run_cli(home, "attach", "case", case_id, str(photo), check=True)
    run_cli(home, "attach", "problem", problem_id, str(photo), check=True)
    first, second = _listed(home, "case", case_id) + _listed(home, "problem", problem_id)
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    assert len(stored_files(home)) == 1


def test_keep_original_keeps_the_pixels_and_still_drops_the_location(home: Path,
                                                                     tmp_path: Path) -> None:
    case_id = _first(home, "cases")
    photo = phone_photo(tmp_path / "orig.jpg", size=(2400, 1800))
    run_cli(home, "attach", "case", case_id, str(photo), "--keep-original", check=True)
    [item] = _listed(home, "case", case_id)
    [stored] = stored_files(home)
    with Image.open(stored) as kept, Image.open(photo) as original:
        assert kept.size == (2400, 1800) and not kept.getexif().get_ifd(GPS_IFD)
        assert kept.getexif()[ORIENTATION] == 6
        assert kept.tobytes() == original.tobytes()  # the pixels were not re-encoded
    assert item["sha256"] != sha256_of(photo)
    run_cli(home, "attach", "case", case_id, str(photo), "--keep-original",
            "--keep-location", check=True)
    assert sha256_of(photo) in {a["sha256"] for a in _listed(home, "case", case_id)}


def test_a_program_named_like_a_photo_is_typed_by_its_bytes_and_only_extracted(
        home: Path, tmp_path: Path) -> None:
    problem_id = _first(home, "problems")
    fake = program_as_photo(tmp_path / "photo.jpg")
    run_cli(home, "attach", "problem", problem_id, str(fake), check=True)
    [item] = _listed(home, "problem", problem_id)
    assert (item["kind"], item["media_type"]) == ("other", "application/x-executable")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(home, "extract", str(item["id"]), "--out", str(out))
    assert result.code == 0, result
    written = Path(result.out.strip())
    assert written.parent == out and written.suffix == ".bin"  # never the stored name
    assert written.read_bytes() == fake.read_bytes()
    again = run_cli(home, "extract", str(item["id"]), "--out", str(written))
    assert again.code == 1 and "already exists" in again.err


def _unchanged(home: Path, before: str, result_code: int, err: str) -> None:
    assert result_code == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert run_cli(home, "dump", "--json", check=True).out == before
    assert stored_files(home) == []
    assert not list((home / "files" / "tmp").glob("*")) if (home / "files").exists() else True


@pytest.mark.parametrize("bad", ["missing", "folder", "bomb", "damaged", "too_big"])
def test_bad_files_are_refused_in_one_line_and_nothing_is_attached(
        home: Path, tmp_path: Path, bad: str) -> None:
    case_id = _first(home, "cases")
    good = screenshot(tmp_path / "good.png")
    target = tmp_path / f"{bad}.png"
    if bad == "folder":
        target.mkdir()
    elif bad == "bomb":
        decompression_bomb(target)
    elif bad == "damaged":
        target.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
        target = target.rename(tmp_path / "damaged.jpg")
    elif bad == "too_big":
        target = tmp_path / "scan.pdf"
        with target.open("wb") as out:
            out.write(b"%PDF-1.4\n")
            out.truncate(51 * 1024 * 1024)
    before = run_cli(home, "dump", "--json", check=True).out
    result = run_cli(home, "attach", "case", case_id, str(good), str(target), lang="zh")
    _unchanged(home, before, result.code, result.err)
    expected = {"missing": "没有这个文件", "folder": "文件夹", "bomb": "解压炸弹",
                "damaged": "无法作为图片读取", "too_big": "50 MB"}[bad]
    assert expected in result.err and target.name in result.err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits and geteuid")
def test_unreadable_file_is_refused(home: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    secret = screenshot(tmp_path / "secret.png")
    secret.chmod(0)
    result = run_cli(home, "attach", "case", _first(home, "cases"), str(secret))
    assert result.code == 1 and "cannot be read" in result.err


def test_a_file_name_with_escapes_is_stored_as_data_and_shown_harmless(
        home: Path, tmp_path: Path) -> None:
    case_id = _first(home, "cases")
    evil = screenshot(tmp_path / "..\x1b[31mred\x07.png")
    run_cli(home, "attach", "case", case_id, str(evil), "--caption", "\x1b]8;;x\x07link",
            check=True)
    [item] = _listed(home, "case", case_id)
    assert item["name"] == "..\x1b[31mred\x07.png"
    shown = run_cli(home, "attachments", "case", case_id, check=True).out
    assert "\x1b" not in shown and "\\x1b[31mred" in shown


def test_detach_leaves_a_tombstone_and_only_the_owner_may(home: Path, tmp_path: Path) -> None:
    case_id = _first(home, "cases")
    run_cli(home, "attach", "case", case_id, str(screenshot(tmp_path / "a.png")),
            str(phone_photo(tmp_path / "b.jpg", size=(800, 600))), check=True)
    first, second = _listed(home, "case", case_id)
    assert run_cli(home, "detach", str(first["id"])).code == 0
    assert run_cli(home, "delete", "attachment", str(second["id"])).code == 0
    assert _listed(home, "case", case_id) == []
    assert run_cli(home, "dump", "--json", check=True).json()["attachments"] == []
    gone = run_cli(home, "detach", str(first["id"]))
    assert gone.code == 1 and "No attachment" in gone.err
    assert run_cli(home, "check", "--json", check=True).json() == {"checked": 0, "bad": []}


def test_files_attach_to_follow_ups_and_show_under_their_problem(home: Path,
                                                                 tmp_path: Path) -> None:
    followup_id = _first(home, "followups")
    problem_id = next(f["problem_id"] for f in run_cli(home, "dump", "--json", check=True)
                      .json()["followups"] if f["id"] == followup_id)
    run_cli(home, "attach", "followup", followup_id, str(screenshot(tmp_path / "s.png")),
            check=True)
    [item] = _listed(home, "problem", problem_id)
    assert (item["record_kind"], item["record_id"]) == ("followup", followup_id)


def test_check_names_a_missing_or_damaged_file(home: Path, tmp_path: Path) -> None:
    case_id = _first(home, "cases")
    run_cli(home, "attach", "case", case_id, str(screenshot(tmp_path / "a.png")), check=True)
    [stored] = stored_files(home)
    stored.write_bytes(b"changed")
    damaged = run_cli(home, "check", "--json")
    assert damaged.code == 1 and damaged.json()["bad"][0]["state"] == "mismatch"
    stored.unlink()
    missing = run_cli(home, "check")
    assert missing.code == 1 and "missing" in missing.err
    assert run_cli(home, "extract", _listed(home, "case", case_id)[0]["id"],  # type: ignore[arg-type]
                   "--out", str(tmp_path / "x.png")).code == 1


def test_attaching_to_an_unknown_record_or_with_no_file(home: Path, tmp_path: Path) -> None:
    photo = screenshot(tmp_path / "a.png")
    unknown = run_cli(home, "attach", "case", "0bcf9752-61f5-55cd-9d0d-579508816300",
                      str(photo))
    assert unknown.code == 1 and "No case" in unknown.err
    assert run_cli(home, "attach", "case", "x").code == 2
    assert run_cli(home, "attachments", "case", "0bcf9752-61f5-55cd-9d0d-579508816300"
                   ).code == 1


def test_the_record_travels_to_the_township_with_its_file(tmp_path: Path) -> None:
    from tests.sync_helpers import CASE as CASE_DATA
    from tests.sync_helpers import send, three_nodes
    from villagebook.services import attachments, cases

    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE_DATA)
        [attachment_id] = attachments.attach(n.village, "case", case_id,
                                             [screenshot(tmp_path / "a.png")], caption="前")
        bundle = send(n.village, tmp_path / "usb")
        assert run_cli(n.township.home, "merge", str(bundle)).code == 0
        listed = json.loads(run_cli(n.township.home, "attachments", "case", case_id,
                                    "--json", check=True).out)
        assert [a["id"] for a in listed] == [attachment_id]
        assert run_cli(n.township.home, "check").code == 0  # the bundle carried the file
        refused = run_cli(n.township.home, "detach", attachment_id)
        assert refused.code == 1 and "320117100201" in refused.err


def test_a_peers_hostile_attachment_record_is_shown_as_data_and_never_used_as_a_path(
        tmp_path: Path) -> None:
    from tests.sync_helpers import CASE as CASE_DATA
    from tests.sync_helpers import change_line, forge, send, three_nodes
    from villagebook.services import cases

    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE_DATA)
        run_cli(n.township.home, "merge", str(send(n.village, tmp_path / "usb")), check=True)
        record = "0bcf9752-61f5-55cd-9d0d-579508816399"
        data = b"#!/bin/sh\nrm -rf ~\n"
        digest = hashlib.sha256(data).hexdigest()

        def attachment(seq: int, **fields: object) -> Path:
            values = {"unit_code": n.village.node.unit_code, "record_kind": "case",
                      "record_id": case_id, "caption": "\x1b[2J清屏", "kind": "photo",
                      "name": "../../.bashrc\x1b]8;;x\x07", "size": len(data),
                      "sha256": digest, "attached_by": "x",
                      "attached_at": "2026-11-01T10:00:00+00:00", **fields}
            line = change_line(entity="attachment", record=record,
                               hlc=(1_790_000_000_000 << 16) + seq,
                               device=n.village.node.device_id, unit=n.village.node.unit_code,
                               fields=values)
            listed = [{"sha256": digest, "size": len(data)}]
            return forge(n.village, tmp_path / f"hostile{seq}.vbundle", line, seq=seq,
                         overrides={"files": listed, "carries": listed},
                         extra={f"files/{digest}": data})

        # Values the app never stores (an unknown kind, a path for a hash) are refused.
        for seq, bad in enumerate(({"kind": "evil"}, {"sha256": "../../../etc/passwd"}),
                                  start=2):
            refused = run_cli(n.township.home, "merge", "--json", str(attachment(seq, **bad)))
            assert refused.code == 1 and \
                refused.json()["bundles"][0]["reason"] == "invalid_value", refused
        bundle = attachment(2)
        merged = run_cli(n.township.home, "merge", str(bundle))
        assert merged.code == 0, merged
        home = n.township.home
        shown = run_cli(home, "attachments", "case", case_id)
        assert shown.code == 0 and "\x1b" not in shown.out
        assert "../../.bashrc\\x1b]8;;x\\x07" in shown.out
        out = tmp_path / "out"
        out.mkdir()
        extracted = run_cli(home, "extract", record, "--out", str(out))
        assert extracted.code == 0, extracted  # under a safe name, never the peer's
        assert [p.name for p in out.iterdir()] == [f"attachment-{record}.bin"]
        assert (out / f"attachment-{record}.bin").read_bytes() == data
        assert run_cli(home, "check").code == 0
        dossier = run_cli(home, "report", "--kind", "dossier", "--case", case_id, "--out",
                          str(tmp_path / "d.docx"))
        assert dossier.code == 0, dossier
