"""The case dossier (案例材料) and the compilation of approved cases (案例汇编), in Word.

One case: its title, its unit, every filled field under its heading, the township's
decisions, the experts' scores, then its evidence: photos placed in the document
with their captions, other files listed. Written with python-docx, so the file
opens in Word, WPS and LibreOffice. User text goes in as plain text runs only
(never fields, hyperlinks or markup), with control characters made visible,
since XML cannot hold them and a peer could have sent them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.text import WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from villagebook.domain.enums import AttachmentKind, CaseStatus, ReviewDecision
from villagebook.i18n import _
from villagebook.services import attachments, cases, reports
from villagebook.services.errors import Refused
from villagebook.services.evaluation import summarise
from villagebook.services.explain import record_lines
from villagebook.services.messages import human_size
from villagebook.services.ranking import ranked_units
from villagebook.services.setup import unit_name
from villagebook.store import files
from villagebook.store.node import Store

_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
#: Types python-docx can place as a picture.
_PLACEABLE = frozenset({"image/jpeg", "image/png", "image/gif"})
_PHOTO_WIDTH = Cm(15)


def plain(text: object) -> str:
    """User text as XML can hold it: control characters shown as `\\xNN`."""
    return _XML_UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def approved_cases(store: Store) -> list[str]:
    """Ids of the approved (or scored) cases of the units under this node, by unit and title."""
    units = {row[0] for row in ranked_units(store)}
    rows = store.conn.execute(
        "SELECT id, unit_code FROM innovation_case WHERE status IN (?, ?) "
        "ORDER BY unit_code, title, id", (CaseStatus.APPROVED.value, CaseStatus.SCORED.value))
    return [case_id for case_id, unit in rows if unit in units]


def write_dossier(store: Store, out: Path, case_id: str | None = None) -> int:
    """Write one case's dossier, or (no `case_id`) every approved case under this node
    into one compilation; returns how many cases it holds."""
    if out.suffix.lower() != ".docx":
        raise Refused("A dossier is written as a .docx file, not {name}", name=out.name)
    chosen = [cases.get_case(store, case_id)["id"]] if case_id else approved_cases(store)
    if not chosen:
        raise Refused("No approved cases to put in a compilation")
    document = _new_document()
    if case_id is None:
        _title_page(store, document, len(chosen))
    for number, chosen_id in enumerate(chosen):
        if number or case_id is None:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _case_section(store, document, chosen_id)
    reports.write_atomically(out, lambda path: document.save(str(path)))
    return len(chosen)


def _new_document() -> DocumentType:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.size = Pt(12)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), "宋体")  # Word's default Latin font has no Chinese glyphs
    return document


def _title_page(store: Store, document: DocumentType, count: int) -> None:
    name = unit_name(store, store.node.unit_code) or store.node.unit_code
    document.add_heading(plain(_("Compilation of innovation cases")), level=0)
    document.add_paragraph(plain(name))
    document.add_paragraph(plain(_("{count} approved cases").format(count=count)))


def _case_section(store: Store, document: DocumentType, case_id: str) -> None:
    case = cases.get_case(store, case_id)
    document.add_heading(plain(case["title"] or ""), level=1)
    document.add_paragraph(plain(unit_name(store, case["unit_code"]) or case["unit_code"]))
    for label, value in record_lines("case", case, skip=("title", "unit_code")):
        document.add_heading(plain(label), level=2)
        for line in str(value).splitlines() or [""]:
            document.add_paragraph(plain(line))
    _decisions(store, document, case_id)
    _evidence(store, document, attachments.attachments_of(store, "case", case_id))


def _decisions(store: Store, document: DocumentType, case_id: str) -> None:
    reviews = cases.reviews_of(store, case_id)
    if reviews:
        document.add_heading(plain(_("Review decisions")), level=2)
    for review in reviews:
        document.add_paragraph(plain(_("{date} {reviewer}: {decision}").format(
            date=review["date"], reviewer=review["reviewer"],
            decision=_(ReviewDecision(review["decision"]).label))))
        if review["comment"]:
            document.add_paragraph(plain(review["comment"]))
    scores = [int(row[0]) for row in store.conn.execute(
        "SELECT score FROM score WHERE case_id = ? AND score IS NOT NULL", (case_id,))]
    summary = summarise(scores)
    if summary:
        document.add_heading(plain(_("Expert score")), level=2)
        document.add_paragraph(plain(_("Mean {mean} from {experts} experts ({low}–{high})")
                                     .format(mean=summary.mean, experts=summary.experts,
                                             low=summary.low, high=summary.high)))


def _evidence(store: Store, document: DocumentType, found: Sequence[dict[str, Any]]) -> None:
    if not found:
        return
    document.add_heading(plain(_("Evidence")), level=2)
    for item in found:
        caption = item["caption"] or item["name"] or ""
        path = files.blob_path(store.home, item["sha256"]) \
            if files.is_sha256(item["sha256"]) else None
        if item["kind"] == AttachmentKind.PHOTO.value and item["media_type"] in _PLACEABLE \
                and path is not None and path.is_file():
            document.add_picture(str(path), width=_PHOTO_WIDTH)
            document.add_paragraph(plain(caption), style="Caption")
            continue
        document.add_paragraph(plain(_listed_line(item, path is not None and path.is_file())),
                               style="List Bullet")


def _listed_line(item: dict[str, Any], held: bool) -> str:
    """A file that is not placed as a picture: its caption (if any), name and size."""
    if item["caption"]:
        line = _("{caption}: {name}, {size}") if held else \
            _("{caption}: {name}, {size} (the file is not in this home yet)")
    else:
        line = _("{name}, {size}") if held else \
            _("{name}, {size} (the file is not in this home yet)")
    return line.format(caption=item["caption"], name=item["name"] or "",
                       size=human_size(item["size"]))
