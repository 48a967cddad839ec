"""What an imported spreadsheet may cost before VillageBook refuses it.

A spreadsheet comes from anywhere (a USB stick, a chat group) and openpyxl parses its
XML. Before openpyxl sees an .xlsx, `check_xlsx_archive` reads only the zip directory
(no member is inflated) and refuses a zip bomb (total size, one member's ratio), a zip
of countless members and a workbook of too many sheets. The sizes it reads are the
ones `zipfile` later holds every member to (it stops at the declared size and checks
the CRC), so a directory that lies cannot inflate more than it declares.

XML entities (billion laughs, external entities) are refused before openpyxl parses
anything: no part of a workbook Excel or WPS writes holds a document type declaration,
so any `<!DOCTYPE` or `<!ENTITY` refuses the file. That holds whichever parser openpyxl
picks: defusedxml for sheets, but lxml (installed with python-docx) for the workbook
part, where entities are left unexpanded rather than refused. `require_defused_xml`
still refuses to read any .xlsx when defusedxml is missing or switched off
(`OPENPYXL_DEFUSEDXML=False`).
While rows are read, `RowBudget` caps the rows (empty ones too: a formatted empty
sheet can claim a million) and the size of one cell.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from villagebook.services.errors import Refused

#: Rows of data an import takes (the header and any title rows above it not counted).
MAX_ROWS = 200_000
#: Rows read from a sheet, empty ones included, before the import gives up on it.
MAX_SHEET_ROWS = MAX_ROWS + 50_000
#: Excel's own limit for one cell.
MAX_CELL_CHARS = 32_767
MAX_SHEETS = 255
MAX_MEMBERS = 2_000
MAX_UNCOMPRESSED = 256 * 1024 * 1024
#: A member that inflates past `_RATIO_FLOOR` must not inflate more than this many times.
#: Real sheets inflate 5 to 40 times; a zip bomb of zeros a thousand times.
MAX_RATIO = 200
_RATIO_FLOOR = 1024 * 1024
_SHEET_MEMBER = re.compile(r"xl/worksheets/[^/]+\.xml", re.IGNORECASE)
_XML_MEMBER = re.compile(r".+\.(?:xml|rels)", re.IGNORECASE)
#: A document type declaration or an entity declaration, in any letter case.
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
#: The start of a `<row>` element, with or without a namespace prefix (`<x:row`).
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


def require_defused_xml() -> None:
    """Refuse to parse any .xlsx unless openpyxl parses its XML through defusedxml."""
    import openpyxl

    if not getattr(openpyxl, "DEFUSEDXML", False):
        raise Refused("Cannot read .xlsx files safely: the defusedxml package is missing "
                      "or switched off (OPENPYXL_DEFUSEDXML)")


def check_xlsx_archive(path: Path) -> None:
    """Refuse `path` if its zip directory promises more than an import may cost."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise Refused("{file} is not a readable .xlsx file ({reason})", file=path.name,
                      reason=type(error).__name__) from None
    if len(members) > MAX_MEMBERS:
        raise Refused("{file} holds {count} files inside; a workbook may hold at most "
                      "{limit}", file=path.name, count=len(members), limit=MAX_MEMBERS)
    sheets = sum(1 for member in members if _SHEET_MEMBER.fullmatch(member.filename))
    if sheets > MAX_SHEETS:
        raise Refused("{file} has {count} sheets; VillageBook reads workbooks of at most "
                      "{limit}", file=path.name, count=sheets, limit=MAX_SHEETS)
    total = sum(member.file_size for member in members)
    bomb = next((member for member in members if member.file_size > _RATIO_FLOOR
                 and member.file_size > MAX_RATIO * max(member.compress_size, 1)), None)
    if total > MAX_UNCOMPRESSED or bomb is not None:
        raise Refused("{file} would unpack to {size} MB (a zip bomb?); nothing was imported",
                      file=path.name, size=max(total, 1) // (1024 * 1024) or 1)
    _check_declarations(path, [m for m in members if _XML_MEMBER.fullmatch(m.filename)])
    _check_row_counts(path, [m for m in members if _SHEET_MEMBER.fullmatch(m.filename)])


def entities_declared(name: str) -> Refused:
    """The refusal of a workbook whose XML declares entities."""
    return Refused("{file} declares XML entities, which VillageBook never reads "
                   "(a known attack on spreadsheet readers)", file=name)


def _check_declarations(path: Path, parts: list[zipfile.ZipInfo]) -> None:
    """Refuse any XML part holding a DTD: scanned in chunks (bounded by the sizes
    checked above), overlapping so a declaration across two chunks is seen."""
    with zipfile.ZipFile(path) as archive:
        for part in parts:
            tail = b""
            with archive.open(part) as member:
                while chunk := member.read(1024 * 1024):
                    if _DECLARATION.search(tail + chunk):
                        raise entities_declared(path.name)
                    tail = chunk[-8:]


def _check_row_counts(path: Path, sheets: list[zipfile.ZipInfo]) -> None:
    """Count each sheet's `<row>` elements in its raw XML (a fast scan, bounded by the
    sizes checked above) so that a million empty rows never reach openpyxl's parser,
    which takes seconds per hundred thousand rows."""
    with zipfile.ZipFile(path) as archive:
        for sheet in sheets:
            rows, tail = 0, b""
            with archive.open(sheet) as member:
                while chunk := member.read(1024 * 1024):
                    window = tail + chunk
                    rows += len(_ROW_TAG.findall(window)) - len(_ROW_TAG.findall(tail))
                    tail = window[-16:]
                    if rows > MAX_SHEET_ROWS:
                        raise _too_many_rows(path.name)


def _too_many_rows(name: str) -> Refused:
    return Refused("{file} has more than {limit} rows, empty ones included; delete the "
                   "empty rows or split it", file=name, limit=MAX_SHEET_ROWS)


class RowBudget:
    """Counts the rows read from one file and checks each cell's size."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = 0

    def take(self, row: tuple[Any, ...] | list[Any]) -> list[Any]:
        """One more row; refused past `MAX_SHEET_ROWS` or with a cell over `MAX_CELL_CHARS`."""
        self.rows += 1
        if self.rows > MAX_SHEET_ROWS:
            raise _too_many_rows(self.name)
        for column, cell in enumerate(row, start=1):
            if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                raise Refused("Row {row}, column {column} of {file} holds {count} characters;"
                              " a cell may hold at most {limit}", row=self.rows,
                              column=column, file=self.name, count=len(cell),
                              limit=MAX_CELL_CHARS)
        return list(row)
