"""Properties of evidence records: `dump --json` lists attachments canonically, whatever
order they were attached in, and photo reduction is deterministic."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import VILLAGE, make_node
from tests.evidence_helpers import phone_photo, screenshot
from tests.sync_helpers import CASE
from villagebook.domain.enums import Role
from villagebook.services import attachments, cases, dump, media

captions = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                            max_size=12), min_size=1, max_size=5)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(captions=captions, reverse=st.booleans())
def test_dump_lists_attachments_sorted_and_canonical(captions: list[str], reverse: bool) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = make_node(Path(root) / "v", Role.VILLAGE, VILLAGE)
        try:
            case_id = cases.create_case(store, CASE)
            picture = screenshot(Path(root) / "s.png")
            for caption in (reversed(captions) if reverse else captions):
                attachments.attach(store, "case", case_id, [picture], caption=caption)
            text = dump.dump_json(store)
            listed = json.loads(text)["attachments"]
            assert [a["id"] for a in listed] == sorted(a["id"] for a in listed)
            assert len(listed) == len(captions)
            assert text == json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True,
                                      indent=1) + "\n"
            assert {a["caption"] for a in listed} == {c.strip() or None for c in captions}
        finally:
            store.close()


def test_reducing_the_same_photo_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    photo = phone_photo(tmp_path / "p.jpg", size=(2600, 1900))
    first = media.prepare_photo(photo, "p.jpg", keep_original=False, keep_location=False)
    second = media.prepare_photo(photo, "p.jpg", keep_original=False, keep_location=False)
    assert first.data is not None and first.data == second.data
    assert (first.media_type, first.taken) == ("image/jpeg", "2026-05-01")


def test_a_temporary_file_left_by_a_crash_is_swept_on_the_next_write(tmp_path: Path) -> None:
    import os

    from villagebook.store import files

    leftover = tmp_path / "files" / "tmp" / "incoming-crashed"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a photo")
    os.utime(leftover, (0, 0))
    fresh = tmp_path / "files" / "tmp" / "incoming-being-written"
    fresh.write_bytes(b"another process, now")
    pending = files.write_pending(tmp_path, iter((b"abc",)), 10)
    assert not leftover.exists() and fresh.exists()
    files.commit(tmp_path, pending)
    assert files.blob_state(tmp_path, pending.sha256) == "ok"


def test_types_come_from_the_bytes_and_only_known_documents_are_viewable(
        tmp_path: Path) -> None:
    import zipfile

    import docx

    word = tmp_path / "纪要.bin"
    docx.Document().save(str(word))
    macro = tmp_path / "纪要.docx"
    with zipfile.ZipFile(macro, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
        archive.writestr("word/vbaProject.bin", "macro")
    text = tmp_path / "readme.exe"
    text.write_text("村民议事会记录\n", encoding="utf-8")
    found = {path.name: media.sniff(path) for path in (word, macro, text)}
    assert media.kind_of(found["纪要.bin"]).value == "document"
    assert found["纪要.bin"] in media.VIEWABLE and found["readme.exe"] == "text/plain"
    assert found["纪要.docx"] == "application/zip" and "application/zip" not in media.VIEWABLE
