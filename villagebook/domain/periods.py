"""Evaluation periods: a year, a half, a quarter or a month, spelled as users write them.

`2026`, `2026-H1`, `2026-Q3`, `2026-05` (also `2026年`, `2026上半年`, `2026年第3季度`,
`2026年5月`). A period is a closed range of dates; ranking counts what happened in it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_YEAR = re.compile(r"^(\d{4})年?$")
_HALF = re.compile(r"^(\d{4})(?:-?H([12])|年?([上下])半年)$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})(?:-?Q([1-4])|年?第([1-4一二三四])季度)$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})(?:-(\d{1,2})|年(\d{1,2})月)$")
_CHINESE_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4"}


class BadPeriod(ValueError):
    """A period spelling we do not understand."""


@dataclass(frozen=True, order=True)
class Period:
    """A named, closed range of dates."""

    code: str
    start: dt.date
    end: dt.date

    def contains(self, day: str | dt.date | None) -> bool:
        """Whether an ISO date (or date) falls in the period; False for none."""
        if not day:
            return False
        text = day.isoformat() if isinstance(day, dt.date) else str(day)[:10]
        return self.start.isoformat() <= text <= self.end.isoformat()


def _month_end(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _months(year: int, first: int, last: int, code: str) -> Period:
    return Period(code, dt.date(year, first, 1), _month_end(year, last))


def parse_period(text: str) -> Period:
    """The period `text` names, with a canonical code; raises BadPeriod."""
    raw = text.strip()
    if match := _YEAR.match(raw):
        year = int(match.group(1))
        return _months(year, 1, 12, f"{year}")
    if match := _HALF.match(raw):
        year = int(match.group(1))
        half = int(match.group(2)) if match.group(2) else (1 if match.group(3) == "上" else 2)
        return _months(year, 6 * half - 5, 6 * half, f"{year}-H{half}")
    if match := _QUARTER.match(raw):
        year = int(match.group(1))
        digit = match.group(2) or match.group(3)
        quarter = int(_CHINESE_DIGITS.get(digit, digit))
        return _months(year, 3 * quarter - 2, 3 * quarter, f"{year}-Q{quarter}")
    if match := _MONTH.match(raw):
        year, month = int(match.group(1)), int(match.group(2) or match.group(3))
        if 1 <= month <= 12:
            return _months(year, month, month, f"{year}-{month:02d}")
    raise BadPeriod(raw)


def year_of(day: dt.date) -> Period:
    """The calendar year containing `day` (the default ranking period)."""
    return parse_period(str(day.year))
