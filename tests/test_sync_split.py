"""A village with more photos than one bundle should carry exports them in parts
(`export --max-size`): each part is a complete bundle, signed and encrypted, and
the township may merge the parts in any order and ends with what one bundle
would have given it."""

from __future__ import annotations

import atexit
import json
import random
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.widgets import Static

from tests.conftest import TOWNSHIP, VILLAGE, make_node, run_cli
from tests.pilot import Harness, settle
from tests.sync_helpers import CASE, introduce, opened, three_nodes
from villagebook.domain.enums import Role
from villagebook.screens.sync_screen import SyncScreen
from villagebook.services import attachments, cases
from villagebook.services.dump import dump_json
from villagebook.services.errors import Refused
from villagebook.services.messages import describe
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync import split
from villagebook.sync.export import export_bundle, export_parts
from villagebook.sync.merge import merge_file

_KB = 1024


@dataclass
class Split:
    parts: list[Path]
    whole: Path
    pristine: Path  # a township device's home before anything was merged
    other: Path  # a second device of the township, merging the whole bundle
    root: Path


def _documents(folder: Path, count: int, size: int) -> list[Path]:
    """Scanned documents as they come off a scanner: bytes that do not compress."""
    folder.mkdir()
    made = []
    for number in range(count):
        path = folder / f"纪要{number}.pdf"
        path.write_bytes(b"%PDF-1.4\n" + random.Random(number).randbytes(size))
        made.append(path)
    return made


@contextmanager
def _split_export(root: Path, max_size: str = "1M") -> Iterator[Split]:
    """A village attaches seven 300 KB documents to two cases, then exports in parts of
    at most `max_size`, and once more whole (--full) for a second township device."""
    with three_nodes(root) as n:
        other = make_node(root / "township2", Role.TOWNSHIP, TOWNSHIP)
        introduce(n.village, other)
        introduce(other, n.village)
        other.close()
        docs = _documents(root / "scans", 7, 300 * _KB)
        first, second = cases.create_case(n.village, CASE), cases.create_case(n.village, CASE)
        attachments.attach(n.village, "case", first, docs[:4], caption="会议纪要")
        attachments.attach(n.village, "case", second, docs[4:], caption="满意度")
        attachments.attach(n.village, "case", second, docs[:1], caption="同一份纪要")
        n.township.close()
        shutil.copytree(n.township.home, root / "pristine")
        n.township = Store(n.township.home)
        out = run_cli(n.village.home, "export", "--out", str(root / "usb"), "--max-size",
                      max_size, check=True).out.split()
        whole = run_cli(n.village.home, "export", "--full", "--out", str(root / "usb2"),
                        check=True).out.split()
        yield Split([Path(p) for p in out], Path(whole[0]), root / "pristine",
                    root / "township2", root)


def _merged_dump(home: Path, bundles: list[Path]) -> str:
    for bundle in bundles:
        result = run_cli(home, "merge", str(bundle))
        assert result.code == 0, result
    assert run_cli(home, "check").code == 0
    return run_cli(home, "dump", "--json", check=True).out


def test_parts_merged_in_shuffled_order_give_what_one_bundle_gives(tmp_path: Path) -> None:
    with _split_export(tmp_path) as split:
        assert len(split.parts) >= 3
        assert all(p.stat().st_size <= 1 << 20 for p in split.parts)
        assert len({p.name for p in split.parts}) == len(split.parts)
        shuffled = split.parts[:]
        random.Random(7).shuffle(shuffled)
        if shuffled == split.parts:
            shuffled.reverse()
        township = tmp_path / "township"
        got = _merged_dump(township, shuffled)
        want = _merged_dump(split.other, [split.whole])
        assert got == want
        assert len(json.loads(got)["attachments"]) == 8
        # Every part again: nothing new, nothing refused.
        again = run_cli(township, "merge", *map(str, split.parts), "--json", check=True)
        assert {r["status"] for r in again.json()["bundles"]} == {"already"}


def test_each_part_merges_alone_into_a_fresh_township(tmp_path: Path) -> None:
    with _split_export(tmp_path) as split:
        for number, part in enumerate(split.parts):
            home = tmp_path / f"alone{number}"
            shutil.copytree(split.pristine, home)
            result = run_cli(home, "merge", str(part))
            assert result.code == 0, result
            assert run_cli(home, "check").code == 0


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_any_order_of_parts_converges(data: st.DataObject) -> None:
    split, whole = _PARTS.get()
    order = data.draw(st.permutations(range(len(split.parts))))
    home = split.root / f"order-{''.join(map(str, order))}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(split.pristine, home)
    with Store(home) as store:
        for index in order:
            assert merge_file(store, split.parts[index]).status == "merged"
        assert dump_json(store) == whole


class _Cache:
    """One split export (in parts) for every example of the property, and the
    dump of a township device that merged the same as one bundle."""

    def __init__(self) -> None:
        self.made: tuple[Split, str] | None = None

    def get(self) -> tuple[Split, str]:
        if self.made is None:
            root = Path(tempfile.mkdtemp(prefix="vb-split-"))
            atexit.register(shutil.rmtree, root, True)
            with _split_export(root) as split:
                assert len(split.parts) >= 3, split.parts
            self.made = (split, _merged_dump(split.other, [split.whole]))
        return self.made


_PARTS = _Cache()


def test_a_file_larger_than_a_part_is_refused_in_chinese_and_nothing_is_written(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        [big] = _documents(tmp_path / "scans", 1, 1200 * _KB)
        attachments.attach(n.village, "case", cases.create_case(n.village, CASE), [big])
        village, usb = n.village.home, tmp_path / "usb"
        result = run_cli(village, "export", "--out", str(usb), "--max-size", "1M", lang="zh")
        assert result.code == 1
        [line] = result.err.strip().splitlines()
        assert "文件" in line and "--max-size 1 MB" in line and "更大的 --max-size" in line
        assert list(usb.glob("*")) == []
        # A larger part size carries it: one part, numbered 1 (the refusal used no number).
        out = run_cli(village, "export", "--out", str(usb), "--max-size", "2M",
                      check=True).out.split()
        assert [Path(p).name[-12:] for p in out] == ["0001.vbundle"]


def test_bad_sizes_are_refused_in_chinese(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        village = n.village.home
    for size, words in (("abc", "不是一个大小"), ("12Q", "不是一个大小"), ("300K", "太小")):
        result = run_cli(village, "export", "--max-size", size, lang="zh")
        assert result.code == 1 and words in result.err, (size, result)
        assert "Traceback" not in result.err
    result = run_cli(village, "export", "--max-size", "1M", "--out",
                     str(tmp_path / "x.vbundle"), lang="zh")
    assert result.code == 1 and "文件夹" in result.err


def test_more_than_one_bundle_carries_is_refused_naming_the_cap_and_max_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "MAX_FILES_BYTES", 500 * _KB)
    with three_nodes(tmp_path) as n:
        docs = _documents(tmp_path / "scans", 2, 300 * _KB)
        attachments.attach(n.village, "case", cases.create_case(n.village, CASE), docs)
        with pytest.raises(Refused) as refused:
            export_bundle(n.village, None, tmp_path / "usb")
        line = describe(refused.value)
        assert "0 MB" in line and "--max-size 200M" in line and "分批导出" in line
        assert not (tmp_path / "usb").exists() or not list((tmp_path / "usb").iterdir())
        parts = export_parts(n.village, None, tmp_path / "usb", max_size=1 << 20)
        assert [p.seq for p in parts] == [1, 2]


async def test_the_sync_screen_writes_parts_when_one_bundle_cannot_carry_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "MAX_FILES_BYTES", 500 * _KB)
    monkeypatch.setattr(split, "APP_PART_SIZE", 1 << 20)
    stick = tmp_path / "usb"
    stick.mkdir()
    with three_nodes(tmp_path) as n:
        docs = _documents(tmp_path / "scans", 3, 300 * _KB)
        attachments.attach(n.village, "case", cases.create_case(n.village, CASE), docs)
        village = n.village.home
    app = Harness(lambda: SyncScreen(village, stick))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+e")
        await settle(pilot)
        status = app.screen.query_one("#status", Static).content
    text = status.plain if isinstance(status, Text) else str(status)
    assert len(list(stick.glob("*.vbundle"))) == 3
    assert "3 个数据包" in text and "任意顺序" in text, text


def test_after_the_parts_are_acknowledged_no_file_travels_again(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        docs = _documents(tmp_path / "scans", 4, 300 * _KB)
        attachments.attach(n.village, "case", cases.create_case(n.village, CASE), docs)
        parts = export_parts(n.village, None, tmp_path / "usb", max_size=1 << 20)
        assert len(parts) >= 2
        for part in reversed(parts):
            assert merge_file(n.township, part.path).status == "merged"
        down = export_bundle(n.township, VILLAGE[0], tmp_path / "down")
        assert merge_file(n.village, down.path).status == "merged"
        again = export_bundle(n.village, None, tmp_path / "again")
        with zipfile.ZipFile(opened(n.township, again.path)) as zf:
            assert not [m for m in zf.namelist() if m.startswith("files/")]
        assert again.sets >= 1  # the split's records, restated: the receiver holds them
        result = merge_file(n.township, again.path)
        assert result.status == "merged" and result.new == 0 and result.updated == 0


def test_a_part_acknowledged_alone_does_not_count_the_others_as_held(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        docs = _documents(tmp_path / "scans", 4, 300 * _KB)
        case_id = cases.create_case(n.village, CASE)
        attachments.attach(n.village, "case", case_id, docs)
        parts = export_parts(n.village, None, tmp_path / "usb", max_size=1 << 20)
        assert merge_file(n.township, parts[-1].path).status == "merged"  # the rest lost
        down = export_bundle(n.township, VILLAGE[0], tmp_path / "down")
        assert merge_file(n.village, down.path).status == "merged"
        again = export_bundle(n.village, None, tmp_path / "again")
        assert merge_file(n.township, again.path).status == "merged"
        assert len(attachments.attachments_of(n.township, "case", case_id)) == 4
        assert cases.get_case(n.township, case_id)["title"] == CASE["title"]
