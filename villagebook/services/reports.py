"""Ledger-style reports for Excel, WPS and LibreOffice: cases, problems, the ranking.

Headers are the field labels in the user's language (so a case report can be
imported again), dates are real dates, the header row is frozen and filtered,
and columns are as wide as their content (a Chinese character counts double).
Spreadsheets get one sheet per township where there are several; CSV files
one table with a township column, UTF-8 with a BOM so Excel reads Chinese.
Files are written to a temporary file beside the target and renamed over it,
so a crash never leaves half a report under the real name.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from villagebook.domain.enums import (
    CaseStatus,
    Choice,
    Direction,
    ProblemCategory,
    ProblemSource,
    ProblemStatus,
    ReviewDecision,
    Urgency,
)
from villagebook.domain.rules import is_overdue
from villagebook.i18n import N_, _
from villagebook.services.attachments import count_and_captions
from villagebook.services.cells import csv_value, printable_text, xlsx_cell
from villagebook.services.errors import Refused
from villagebook.services.evaluation import summarise
from villagebook.services.explain import award_label, explain_line
from villagebook.services.ranking import rank, ranked_units
from villagebook.store import durable
from villagebook.store.node import Store

KINDS = ("case", "problem", "rank")
_MIN_WIDTH, _MAX_WIDTH = 6, 50
_SHEET_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Column:
    """A report column: its header msgid and, for long text, that it wraps."""

    header: str
    wrap: bool = False


@dataclass
class Report:
    """A report's columns and rows, each row tagged with the sheet it belongs on."""

    columns: list[Column]
    rows: list[tuple[str, list[Any]]]
    #: Sheets a spreadsheet always has, in this order, even when empty.
    sheets: list[str] = field(default_factory=list)


def display_width(value: object) -> int:
    """How many terminal/spreadsheet columns a value takes (CJK characters count two)."""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    longest = max((line for line in text.split("\n")), key=len, default="")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def _label(choices: type[Choice], code: str | None) -> str:
    if not code:
        return ""
    try:
        return _(choices(code).label)
    except ValueError:
        return code


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _yes(flag: bool) -> str:
    return _("Yes") if flag else _("No")


def _units(store: Store) -> dict[str, tuple[str, str]]:
    """unit code → (unit name, township name) for the units this node reports on."""
    return {code: (name, township) for code, name, _k, _t, township in ranked_units(store)}


def case_report(store: Store) -> Report:
    """Every case of this node's units, with its latest review and its score."""
    units = _units(store)
    columns = [Column(h) for h in (
        N_("Township / street"), N_("Unit code"), N_("Unit name"), N_("Case title"),
        N_("Lead person"), N_("Contact"), N_("Start date"), N_("Direction"), N_("Status"),
        N_("Latest review"), N_("Reviewed on"))]
    columns += [Column(N_("Review comment"), wrap=True)]
    columns += [Column(h) for h in (
        N_("Expert score"), N_("Experts"), N_("Lowest score"), N_("Highest score"),
        N_("Model case"), N_("Adopted from case"), N_("Attachments"))]
    columns += [Column(N_("Attachment captions"), wrap=True)]
    evidence = count_and_captions(store, [row[0] for row in store.conn.execute(
        "SELECT DISTINCT record_id FROM attachment WHERE record_kind = 'case'")])
    scores: dict[str, list[int]] = {}
    for case_id, score in store.conn.execute("SELECT case_id, score FROM score "
                                             "WHERE score IS NOT NULL"):
        scores.setdefault(case_id, []).append(int(score))
    models = {row[0] for row in store.conn.execute(
        "SELECT case_id FROM model_case WHERE coalesce(withdrawn, 0) = 0")}
    rows: list[tuple[str, list[Any]]] = []
    for case in store.conn.execute(
        "SELECT c.id, c.unit_code, c.title, c.lead_person, c.contact, c.start_date, "
        "c.direction, c.status, c.origin_case_id, r.decision, r.date, r.comment "
        "FROM innovation_case c LEFT JOIN review r ON r.id = (SELECT id FROM review "
        "WHERE case_id = c.id ORDER BY date DESC, updated_hlc DESC LIMIT 1) "
        "ORDER BY c.unit_code, c.title, c.id"):
        (case_id, unit, title, lead, contact, start, direction, status, origin, decision,
         reviewed, comment) = case
        if unit not in units:
            continue
        name, township = units[unit]
        summary = summarise(scores.get(case_id, []))
        rows.append((township, [
            township, unit, name, title or "", lead or "", contact or "", _date(start),
            _label(Direction, direction), _label(CaseStatus, status),
            _label(ReviewDecision, decision), _date(reviewed), comment or "",
            summary.mean if summary else None, summary.experts if summary else 0,
            summary.low if summary else None, summary.high if summary else None,
            _yes(case_id in models), origin or "", *evidence.get(case_id, (0, "")),
        ]))
    return Report(columns, rows)


def problem_report(store: Store) -> Report:
    """The ledgers of this node's units, overdue entries flagged."""
    units = _units(store)
    today = store.today()
    columns = [Column(h) for h in (
        N_("Township / street"), N_("Unit code"), N_("Unit name"), N_("Problem title"))]
    columns += [Column(N_("Description"), wrap=True)]
    columns += [Column(h) for h in (
        N_("Category"), N_("Source"), N_("Reported on"), N_("Reporter"), N_("Urgency"),
        N_("Responsible person"), N_("Deadline"), N_("Status"), N_("Overdue"))]
    columns += [Column(N_("Resolution"), wrap=True), Column(N_("Follow-ups"))]
    rows: list[tuple[str, list[Any]]] = []
    for problem in store.conn.execute(
        "SELECT p.unit_code, p.title, p.description, p.category, p.source, p.reported_date, "
        "p.reporter, p.urgency, p.responsible_person, p.deadline, p.status, p.resolution, "
        "(SELECT count(*) FROM followup f WHERE f.problem_id = p.id) FROM problem p "
        "ORDER BY p.unit_code, p.reported_date, p.id"):
        (unit, title, description, category, source, reported, reporter, urgency, person,
         deadline, status, resolution, followups) = problem
        if unit not in units:
            continue
        name, township = units[unit]
        rows.append((township, [
            township, unit, name, title or "", description or "",
            _label(ProblemCategory, category), _label(ProblemSource, source), _date(reported),
            reporter or "", _label(Urgency, urgency), person or "", _date(deadline),
            _label(ProblemStatus, status), _yes(is_overdue(deadline, status, today)),
            resolution or "", followups,
        ]))
    return Report(columns, rows)


def rank_report(store: Store, period: str | None = None) -> Report:
    """The ranking of a period, one sheet per group, with every score's breakdown."""
    ranking = rank(store, period)
    columns = [Column(h) for h in (
        N_("Period"), N_("Rank"), N_("Unit code"), N_("Unit name"), N_("Township / street"),
        N_("Total points"),
        N_("Expert score points"), N_("Approved case points"), N_("Resolved-in-time points"),
        N_("Overdue penalty"), N_("Award"))]
    columns += [Column(N_("Breakdown"), wrap=True)]
    rows: list[tuple[str, list[Any]]] = []
    for kind, members in ranking.groups.items():
        for unit in members:
            rows.append((_sheet_of_group(kind), [
                ranking.period.code, unit.rank, unit.code, unit.name, unit.township_name,
                unit.total, *(round(line.points, 2) for line in unit.lines),
                award_label(unit.award), "\n".join(explain_line(line) for line in unit.lines),
            ]))
    return Report(columns, rows, [_sheet_of_group(kind) for kind in ranking.groups])


def _sheet_of_group(kind: str) -> str:
    if kind == "section":
        return _("Sections, offices and stations")
    return _("Villages and communities")


def build(store: Store, kind: str, period: str | None = None) -> Report:
    """The report of `kind` ("case", "problem" or "rank")."""
    if kind == "case":
        return case_report(store)
    if kind == "problem":
        return problem_report(store)
    if kind == "rank":
        return rank_report(store, period)
    raise Refused("Unknown report kind {kind} (use case, problem or rank)", kind=kind)


def write_report(store: Store, kind: str, out: Path, period: str | None = None) -> int:
    """Write the report of `kind` to `out` (.xlsx or .csv); returns how many rows."""
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise Refused("Reports are written as .xlsx or .csv files, not {name}", name=out.name)
    report = build(store, kind, period)
    writer = _write_xlsx if suffix == ".xlsx" else _write_csv
    write_atomically(out, lambda path: writer(report, path, by_sheet=kind == "rank"))
    return len(report.rows)


_REASONS = {
    errno.ENOENT: N_("the folder does not exist"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("permission denied"),
    errno.ENOSPC: N_("the disk is full"),
    errno.EROFS: N_("the disk is read-only"),
}


class FileInUse(Refused):
    """The target exists and another program holds it open (Windows' sharing lock)."""


def _cannot_write(out: Path, error: OSError) -> Refused:
    reason = _REASONS.get(error.errno or 0)
    return Refused("Cannot write {path}: {reason}", path=str(out),
                   reason=_(reason) if reason else (error.strerror or str(error)))


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write a report through `write(temporary path)`, then rename it over `out`, so an
    open old copy or a full disk never leaves half a file; refusals name `out`."""
    target = out.expanduser()
    if target.is_dir():
        raise Refused("{path} is a folder; give a file name ending in .xlsx or .csv",
                      path=str(out))
    try:
        durable.write_atomically(target, write, _replace_closed)
    except OSError as error:
        raise _cannot_write(out, error) from None


def _replace_closed(temporary: Path, target: Path) -> None:
    """Rename the finished file over `target`; refused to replace an old copy that
    exists: on Windows that means a program (WPS, Excel) holds it open."""
    try:
        os.replace(temporary, target)
    except PermissionError:
        if target.exists():
            raise FileInUse(
                "{path} is open in another program; close the file in WPS/Excel and "
                "try again, or choose another name", path=str(target)) from None
        raise


def _write_csv(report: Report, path: Path, *, by_sheet: bool) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle)
        headers = [_(c.header) for c in report.columns]
        out.writerow([_("Group"), *headers] if by_sheet else headers)
        for sheet, row in report.rows:
            cells = [csv_value(v) for v in row]
            out.writerow([csv_value(sheet), *cells] if by_sheet else cells)


def _sheets(report: Report, *, by_sheet: bool) -> dict[str, list[list[Any]]]:
    names = {sheet for sheet, _row in report.rows}
    if not by_sheet and len(names) <= 1:
        return {next(iter(names), "") or _("Report"): [row for _s, row in report.rows]}
    sheets: dict[str, list[list[Any]]] = {name: [] for name in report.sheets}
    for sheet, row in report.rows:
        sheets.setdefault(sheet or _("Other"), []).append(row)
    return sheets


def _sheet_title(name: str, taken: set[str]) -> str:
    base = printable_text(name).translate(_SHEET_FORBIDDEN).strip("'")[:28] or "Sheet"
    title, number = base, 2
    while title.casefold() in taken:
        title, number = f"{base}{number}", number + 1
    taken.add(title.casefold())
    return title


def _write_xlsx(report: Report, path: Path, *, by_sheet: bool) -> None:
    """One sheet per township or group (`by_sheet` forces it for a single one).

    Written in openpyxl's streaming mode: tens of thousands of ledger rows stay
    quick and small in memory on an old laptop.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    taken: set[str] = set()
    headers = [_(c.header) for c in report.columns]
    for name, rows in _sheets(report, by_sheet=by_sheet).items():
        sheet = book.create_sheet(_sheet_title(name, taken))
        _size_columns(sheet, headers, rows)
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = f"A1:{_letter(len(headers))}{len(rows) + 1}"
        cells = _CellMaker(sheet, report.columns)
        sheet.append([cells.header(text) for text in headers])
        for row in rows:
            sheet.append([cells.value(index, value) for index, value in enumerate(row)])
    _save_closing(book, path)


def _save_closing(book: Any, path: Path) -> None:
    """`book.save(path)`, but the zip is closed on every path: openpyxl leaves it open
    when a write fails (a full disk), and its `__del__` would later print a traceback
    while trying to finish the file on that same full disk."""
    import zipfile

    from openpyxl.writer.excel import ExcelWriter

    if not book.worksheets:
        book.create_sheet()
    book.properties.modified = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    archive = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    try:
        ExcelWriter(book, archive).write_data()
        archive.close()
    except BaseException:
        with contextlib.suppress(OSError, ValueError):
            archive.close()  # finishing the zip may fail on the same full disk
        if archive.fp is not None:  # close gave up half-way: drop the file handle
            archive.fp.close()
            archive.fp = None
        raise


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(column))


def _size_columns(sheet: Any, headers: list[str], rows: list[list[Any]]) -> None:
    for index, header in enumerate(headers):
        widest = max([display_width(header),
                      *(display_width(row[index]) for row in rows
                        if row[index] not in (None, ""))])
        sheet.column_dimensions[_letter(index + 1)].width = (
            min(max(widest + 2, _MIN_WIDTH), _MAX_WIDTH))


class _CellMaker:
    """Styled cells for a streaming sheet: bold headers, real dates, wrapped long text."""

    def __init__(self, sheet: Any, columns: Sequence[Column]) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        self.sheet = sheet
        self.wrap = [column.wrap for column in columns]
        self.bold = Font(bold=True)
        self.fill = PatternFill("solid", fgColor="DDE6F0")
        self.wrapped = Alignment(wrap_text=True, vertical="top")

    def header(self, text: str) -> Any:
        cell = xlsx_cell(self.sheet, text)
        cell.font, cell.fill = self.bold, self.fill
        return cell

    def value(self, index: int, value: Any) -> Any:
        """A row's cell: every string a string cell (never a formula), see `cells`."""
        if isinstance(value, dt.date):
            cell = xlsx_cell(self.sheet, value)
            cell.number_format = "yyyy-mm-dd"
            return cell
        if isinstance(value, str):
            cell = xlsx_cell(self.sheet, value)
            if self.wrap[index] and value:
                cell.alignment = self.wrapped
            return cell
        return value
