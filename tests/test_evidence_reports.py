"""Evidence in reports: the case spreadsheet counts it, the Word dossier shows it."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import docx
import pytest

from tests.conftest import run_cli
from tests.evidence_helpers import phone_photo, program_as_photo
from tests.sync_helpers import CASE, send, three_nodes
from villagebook.domain.enums import ReviewDecision
from villagebook.services import attachments, cases


def _village_case_with_evidence(village_home: Path, tmp_path: Path) -> str:
    from villagebook.store.node import Store

    with Store(village_home) as store:
        case_id = cases.create_case(store, {**CASE, "measures": "第一步\n第二步 <w:fldSimple/>"})
        attachments.attach(store, "case", case_id,
                           [phone_photo(tmp_path / "before.jpg", size=(1600, 1200))],
                           caption="修路前\x1b[31m")
        attachments.attach(store, "case", case_id, [program_as_photo(tmp_path / "x.jpg")],
                           caption="会议纪要")
    return case_id


def _texts(path: Path) -> list[str]:
    return [paragraph.text for paragraph in docx.Document(str(path)).paragraphs]


def test_village_prints_a_dossier_with_its_photo_placed_and_text_kept_plain(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = _village_case_with_evidence(n.village.home, tmp_path)
        out = tmp_path / "dossier.docx"
        result = run_cli(n.village.home, "report", "--kind", "dossier", "--case", case_id,
                         "--out", str(out), lang="zh")
        assert result.code == 0, result
        document = docx.Document(str(out))
        texts = [p.text for p in document.paragraphs]
        assert texts[0] == CASE["title"] and "负责人" in texts and "王芳" in texts
        assert "第二步 <w:fldSimple/>" in texts  # user text as text, never markup
        assert "修路前\\x1b[31m" in texts  # the photo's caption, escape made visible
        assert any(t.startswith("会议纪要：x.jpg") for t in texts)
        assert len(document.inline_shapes) == 1  # the photo, placed; the program is not
        xml = document.element.xml
        assert "fldSimple" not in xml.replace("&lt;w:fldSimple/&gt;", "")


def test_township_compiles_its_approved_cases_and_counts_evidence_in_the_spreadsheet(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = _village_case_with_evidence(n.village.home, tmp_path)
        cases.create_case(n.village, {**CASE, "title": "未提交的案例"})
        cases.submit_case(n.village, case_id)
        assert run_cli(n.township.home, "merge", str(send(n.village, tmp_path / "usb"))
                       ).code == 0
        cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "同意", "白马镇")
        out = tmp_path / "汇编.docx"
        result = run_cli(n.township.home, "report", "--kind", "dossier", "--out", str(out))
        assert result.code == 0, result
        texts = _texts(out)
        assert texts[0] == "Compilation of innovation cases" and CASE["title"] in texts
        assert "未提交的案例" not in texts
        # The photo's bytes came with the bundle: the compilation places it.
        assert not any("not in this home yet" in t for t in texts)
        assert len(docx.Document(str(out)).inline_shapes) == 1
        sheet = tmp_path / "cases.csv"
        run_cli(n.township.home, "report", "--kind", "case", "--out", str(sheet), check=True)
        with sheet.open(encoding="utf-8-sig") as handle:
            [row] = [r for r in csv.DictReader(handle) if r["Case title"] == CASE["title"]]
        assert row["Attachments"] == "2" and row["Attachment captions"].startswith("修路前")


def test_a_dossier_needs_a_docx_name_and_a_known_case(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        home = n.village.home
        wrong = run_cli(home, "report", "--kind", "dossier", "--out", str(tmp_path / "d.pdf"))
        assert wrong.code == 1 and ".docx" in wrong.err
        none = run_cli(home, "report", "--kind", "dossier", "--out", str(tmp_path / "d.docx"))
        assert none.code == 1 and "No approved cases" in none.err
        unknown = run_cli(home, "report", "--kind", "dossier", "--case",
                          "0bcf9752-61f5-55cd-9d0d-579508816300", "--out",
                          str(tmp_path / "d.docx"))
        assert unknown.code == 1 and "No case" in unknown.err
        assert not (tmp_path / "d.docx").exists()


@pytest.mark.skipif(shutil.which("libreoffice") is None and shutil.which("soffice") is None,
                    reason="LibreOffice is not installed")
def test_libreoffice_converts_the_dossier_to_pdf(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = _village_case_with_evidence(n.village.home, tmp_path)
        out = tmp_path / "dossier.docx"
        run_cli(n.village.home, "report", "--kind", "dossier", "--case", case_id, "--out",
                str(out), check=True)
        office = shutil.which("libreoffice") or shutil.which("soffice") or ""
        subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir",
                        str(tmp_path), str(out)], check=True, timeout=240,
                       capture_output=True)
        assert (tmp_path / "dossier.pdf").read_bytes().startswith(b"%PDF")
