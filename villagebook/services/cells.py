"""Writing one spreadsheet cell safely: text a village typed stays text.

Reports hold strings typed in a hundred villages, opened by a clerk in Excel or WPS.
A string that begins like a formula (`=HYPERLINK(...)`, the DDE payload
`=cmd|' /C calc'!A0`) must never become one ("CSV injection", OWASP):

- in .xlsx every string cell is written with the string data type, whatever it
  begins with, so the file holds no formula at all (the value is shown as typed);
- in both, control characters (an ESC pasted from a terminal) become U+FFFD: XML
  cannot hold them, and one of them must not make a whole report fail;
- in .csv, where a spreadsheet decides for itself, a string that begins with one of
  `FORMULA_TRIGGERS` gets a leading `'` (OWASP's advice): Excel and WPS then show it
  as text, and the apostrophe itself is hidden or harmless.

Full-width `＝ ＋ － ＠` count as triggers too: WPS and Excel's IME input may fold
full-width forms to ASCII, so `＝1+1` could be read as a formula. Numbers and dates
are not strings and pass unchanged, so real numbers stay numbers and dates stay dates.
Every report writer (and any later one, a Word dossier say) uses these functions; the
importer reads a `'` that `inert_text` added back off with `typed_text`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (or, for TAB and
#: CR, that hide a formula character behind them when the cell is trimmed).
FORMULA_TRIGGERS = frozenset("=+-@\t\r＝＋－＠")
#: Control characters but TAB, LF and CR: XML (so .xlsx) cannot hold most of them, and one
#: ESC typed in a village must not make the district's whole report fail. Each becomes
#: U+FFFD, so the reader sees that something was there.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable_text(text: str) -> str:
    """`text` with every control character but TAB, LF and CR replaced by U+FFFD."""
    return _CONTROLS.sub("\ufffd", text)


def inert_text(text: str) -> str:
    """`text` as a CSV cell no spreadsheet runs: a leading `'` if it begins like a formula."""
    text = printable_text(text)
    return "'" + text if text[:1] in FORMULA_TRIGGERS else text


def typed_text(text: str) -> str:
    """The text behind `inert_text`: what a report's .csv cell held before its `'`, so a
    report imported again keeps what was typed (as a file Excel saved again would)."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_TRIGGERS else text


def csv_value(value: Any) -> Any:
    """A report value as a CSV cell: dates in ISO form, strings made inert, numbers as is."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        return ""
    if isinstance(value, str):
        return inert_text(value)
    return value


def xlsx_cell(sheet: Any, value: Any) -> Any:
    """A write-only openpyxl cell holding `value`; a string is always a string cell.

    openpyxl turns any string beginning with `=` into a formula (and `#N/A` and the like
    into error values); forcing the data type to "s" writes it as an inline string.
    """
    from openpyxl.cell import WriteOnlyCell

    if not isinstance(value, str):
        return WriteOnlyCell(sheet, value=value)
    cell = WriteOnlyCell(sheet, value=printable_text(value))
    cell.data_type = "s"
    return cell
