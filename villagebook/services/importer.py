"""Importing ledgers from spreadsheets (.xlsx from Excel/WPS, or .csv).

Headers may be Chinese or English (案例名称 / title / Case title …); columns we
do not know (序号 and the like) are skipped and reported. Every row is checked
before anything is written; one bad row means nothing is imported, and every
bad row is reported with its row number as the spreadsheet shows it.

Government templates put a title row (often merged cells) above the header: the
header is the row, among the first `HEADER_SEARCH_ROWS` rows that hold anything,
with the most known column names, and the summary says which row it was. What a
file may cost (rows, cell size, zip directory, XML entities) is in
`spreadsheet_limits`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from villagebook.domain.fields import CASE, PROBLEM, Entity
from villagebook.domain.validation import FieldError, ValidationError, validate
from villagebook.i18n import translate
from villagebook.services import import_memory
from villagebook.services.cells import typed_text
from villagebook.services.errors import Refused
from villagebook.services.progress import SILENT, Progress, counted
from villagebook.services.records import bulk_create, new_id
from villagebook.services.spreadsheet_limits import (
    MAX_ROWS,
    RowBudget,
    check_xlsx_archive,
    entities_declared,
    require_defused_xml,
)
from villagebook.store.node import Store

#: How many non-empty rows from the top may hold the header (title rows above it).
HEADER_SEARCH_ROWS = 10
_HEADER_NOISE = re.compile(r"[\s*＊:：]|[（(]必填[)）]|[（(]选填[)）]")
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class ImportedBefore(Refused):
    """Rows of the file were imported before; nothing was imported."""

    def __init__(self, file: str, before: int, total: int) -> None:
        super().__init__("{before} of the {total} rows of {file} were imported before; "
                         "nothing was imported. To import them again, add --again",
                         before=before, total=total, file=file)
        self.before = before
        self.total = total


@dataclass(frozen=True)
class RowProblem:
    """One bad row: its number in the spreadsheet and what is wrong."""

    row: int
    errors: tuple[FieldError, ...]


class ImportRejected(Refused):
    """The file had bad rows; nothing was imported."""

    def __init__(self, entity: str, problems: list[RowProblem]) -> None:
        super().__init__("{count} rows are invalid; nothing was imported", count=len(problems))
        self.entity = entity
        self.problems = problems


@dataclass
class ImportSummary:
    """What an import did."""

    kind: str
    imported: int
    ignored_columns: list[str] = field(default_factory=list)
    #: The row taken as the header, numbered as the spreadsheet shows it.
    header_row: int = 1


def _normalise_header(header: object) -> str:
    return _HEADER_NOISE.sub("", str(header or "")).casefold()


def header_map(entity: Entity) -> dict[str, str]:
    """Every accepted spelling of every column header → field name."""
    spellings: dict[str, str] = {}
    for spec in entity.fields:
        for spelling in (spec.name, spec.label, translate(spec.label, "zh"), *spec.headers):
            spellings[_normalise_header(spelling)] = spec.name
    return spellings


def _read_csv(path: Path) -> list[list[Any]]:
    raw = path.read_bytes()
    for encoding in _CSV_ENCODINGS:
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refused("{file} is neither UTF-8 nor GB18030 text", file=path.name)
    try:
        dialect: Any = csv.Sniffer().sniff(content[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    # newline="": the csv module then takes CRLF, LF and a bare CR (old Mac Excel) alike,
    # and keeps line breaks inside quoted cells.
    reader = csv.reader(io.StringIO(content, newline=""), dialect)
    budget = RowBudget(path.name)
    try:
        return [[typed_text(cell) for cell in budget.take(row)] for row in reader]
    except csv.Error:
        raise Refused("{file} is not readable CSV text (near line {line})", file=path.name,
                      line=reader.line_num) from None


def _read_xlsx(path: Path) -> list[list[Any]]:
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook

    require_defused_xml()
    check_xlsx_archive(path)
    budget = RowBudget(path.name)
    # openpyxl raises many types for a damaged file, and in read-only mode a damaged
    # sheet (bad XML, say) only shows while its rows are read.
    try:
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            # The dimension a sheet claims (A1:XFD1048576 for a formatted empty sheet)
            # would make openpyxl pad every row to it: read only the cells that exist.
            sheet.reset_dimensions()
            return [budget.take(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    except Refused:
        raise
    except Exception as error:
        if _caused_by(error, DefusedXmlException):
            raise entities_declared(path.name) from None
        raise Refused("{file} is not a readable .xlsx file ({reason})", file=path.name,
                      reason=type(error).__name__) from None


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    """Whether `error` or an error it was raised from is a `kind` (openpyxl wraps some)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, kind):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def read_rows(path: Path) -> list[list[Any]]:
    """All rows of the first sheet (.xlsx) or of the file (.csv), as cell values."""
    if path.is_dir():
        raise Refused("{file} is a folder; name a .xlsx or .csv file in it", file=str(path))
    if not path.is_file():
        raise Refused("{file} does not exist", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise Refused("Only .xlsx and .csv files can be imported, not {file}", file=path.name)


def _numbered(rows: Sequence[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
    for number, row in enumerate(rows, start=1):
        if any(cell not in (None, "") and str(cell).strip() for cell in row):
            yield number, list(row)


def _known_headers(entity: Entity, row: Sequence[Any]) -> int:
    known = header_map(entity)
    return len({known[name] for name in map(_normalise_header, row) if name in known})


def _find_header(rows: Sequence[tuple[int, list[Any]]], kind: str | None) -> int:
    """Index in `rows` of the header: the first of the top rows with the most known names
    (the first row when none has any, so that the refusal names it)."""
    entities = (CASE, PROBLEM) if kind is None else ({"case": CASE, "problem": PROBLEM}[kind],)
    best, best_score = 0, 0
    for index, (_number, row) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = max(_known_headers(entity, row) for entity in entities)
        if score > best_score:
            best, best_score = index, score
    return best


def _pick_entity(headers: Sequence[Any], kind: str | None) -> Entity:
    if kind is not None:
        return {"case": CASE, "problem": PROBLEM}[kind]
    scores = {entity.name: _known_headers(entity, headers) for entity in (CASE, PROBLEM)}
    if scores["case"] == scores["problem"]:
        raise Refused("Cannot tell whether this file holds cases or problems; add --kind")
    return CASE if scores["case"] > scores["problem"] else PROBLEM


def _columns(entity: Entity, headers: Sequence[Any]) -> tuple[dict[int, str], list[str]]:
    known = header_map(entity)
    columns: dict[int, str] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        name = known.get(_normalise_header(header))
        if name is None or name in columns.values():
            if str(header or "").strip():
                ignored.append(str(header).strip())
            continue
        columns[index] = name
    return columns, ignored


def import_file(store: Store, path: Path, kind: str | None = None, *,
                again: bool = False, progress: Progress = SILENT) -> ImportSummary:
    """Import every row of `path` as cases or problems of this node's unit, or none
    (`progress` counts the rows written).

    A file holding rows this node imported before is refused (`ImportedBefore`) unless
    `again`; see `import_memory` for the rule."""
    numbered = list(_numbered(read_rows(path)))
    if not numbered:
        raise Refused("{file} has no rows", file=path.name)
    header_at = _find_header(numbered, kind)
    header_number, headers = numbered[header_at]
    data = numbered[header_at + 1:]
    if len(data) > MAX_ROWS:
        raise Refused("{file} has more than {limit} rows; split it", file=path.name,
                      limit=MAX_ROWS)
    entity = _pick_entity(headers, kind)
    columns, ignored = _columns(entity, headers)
    missing = [spec.name for spec in entity.fields
               if spec.required and spec.name not in columns.values() and spec.name != "unit_code"]
    if missing:
        labels = ", ".join(translate(entity.field(name).label, "zh") for name in missing)
        raise Refused("The header row (row {row}) lacks required columns: {columns}",
                      row=header_number, columns=labels)
    items, digests, problems = _validated_rows(store, entity, columns, data)
    if problems:
        raise ImportRejected(entity.name, problems)
    before = import_memory.count_imported(store, entity.name, digests)
    if before and not again:
        raise ImportedBefore(path.name, before, len(items))
    progress.start(len(items))
    with store.transaction(bulk=True):
        imported = bulk_create(store, entity.name, counted(items, progress))
        ids = (record_id for record_id, _unit, _data in items)
        import_memory.remember(store, entity.name, zip(ids, digests, strict=True))
    return ImportSummary(entity.name, imported, ignored, header_number)


def _validated_rows(
    store: Store, entity: Entity, columns: dict[int, str],
    rows: Sequence[tuple[int, list[Any]]],
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str], list[RowProblem]]:
    unit = store.node.unit_code
    items: list[tuple[str, str, dict[str, Any]]] = []
    digests: list[str] = []
    problems: list[RowProblem] = []
    for number, row in rows:
        data: dict[str, Any] = {name: row[index] if index < len(row) else None
                                for index, name in columns.items()}
        data = {name: value for name, value in data.items() if value not in (None, "")}
        data.setdefault("unit_code", unit)
        if entity is CASE:
            data.setdefault("status", "draft")
        else:
            data.setdefault("status", "open")
        errors: list[FieldError] = []
        try:
            parsed = validate(entity, data, creating=True)
        except ValidationError as error:
            errors.extend(error.errors)
            parsed = {}
        if parsed and parsed.get("unit_code") != unit:
            errors.append(FieldError("unit_code", "is {value}, but this node keeps unit {unit}",
                                     {"value": parsed.get("unit_code"), "unit": unit}))
        if parsed and entity is CASE and parsed.get("status") != "draft":
            errors.append(FieldError("status", "imported cases start as drafts"))
        if errors:
            problems.append(RowProblem(number, tuple(errors)))
        else:
            items.append((new_id(store), unit, data))
            digests.append(import_memory.row_digest(entity.name, parsed))
    return items, digests, problems
