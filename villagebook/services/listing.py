"""Keyset-paged lists of cases and ledger problems, for the screens.

A page is found by the sort key of the row before it (or after it, going
back), never by an offset, so reading page 1000 of 100k records costs what
page 1 costs. Filters are plain values chosen from closed vocabularies; the
search text goes through the full-text index and never into SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from villagebook.domain.rules import PROBLEM_DONE
from villagebook.services.records import select_dicts
from villagebook.store import search_index
from villagebook.store.node import Store

_TABLES = {"case": "innovation_case", "problem": "problem"}
_COLUMNS = {
    "case": ("id", "title", "status", "direction", "start_date", "lead_person", "unit_code",
             "updated_hlc"),
    "problem": ("id", "title", "status", "urgency", "category", "deadline",
                "responsible_person", "unit_code", "updated_hlc"),
}
#: Sort name → (key columns, descending?).
SORTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "recent": (("updated_hlc", "id"), True),
    "title": (("title", "id"), False),
}
_FILTERABLE = {
    "case": ("status", "direction"),
    "problem": ("status", "urgency", "category"),
}


@dataclass(frozen=True)
class ListQuery:
    """What a list shows: `kind` ("case" or "problem"), equality filters, search, sort."""

    kind: str
    filters: dict[str, str] = field(default_factory=dict)
    search: str = ""
    overdue_only: bool = False
    open_only: bool = False
    sort: str = "recent"


@dataclass(frozen=True)
class Page:
    """Rows of one page, in display order, and whether more lie before or after;
    with `total`, how many records the whole list holds."""

    rows: list[dict[str, Any]]
    more_before: bool
    more_after: bool
    total: int | None = None

    def first_key(self, sort: str) -> tuple[Any, ...] | None:
        """Sort key of the first row (to page backwards from)."""
        return _key(self.rows[0], sort) if self.rows else None

    def last_key(self, sort: str) -> tuple[Any, ...] | None:
        """Sort key of the last row (to page forwards from)."""
        return _key(self.rows[-1], sort) if self.rows else None


def _key(row: dict[str, Any], sort: str) -> tuple[Any, ...]:
    return tuple(row[column] for column in SORTS[sort][0])


def _where(store: Store, query: ListQuery) -> tuple[list[str], list[Any]]:
    if query.kind not in _TABLES:
        raise ValueError(query.kind)
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in sorted(query.filters.items()):
        if name not in _FILTERABLE[query.kind]:
            raise ValueError(name)
        if value:
            clauses.append(f"{name} = ?")
            params.append(value)
    if query.overdue_only and query.kind == "problem":
        from villagebook.services.dashboard import OPEN_STATUSES, OVERDUE_SQL

        clauses.append(OVERDUE_SQL)
        params.extend([*OPEN_STATUSES, store.today().isoformat()])
    if query.open_only and query.kind == "problem":
        clauses.append("COALESCE(status, 'open') NOT IN (?, ?)")
        params.extend(sorted(PROBLEM_DONE))
    if query.search.strip():
        # Every match, in the list's own order (not the best few hundred by rank).
        matching = search_index.matching_ids_sql(query.search, query.kind)
        if matching is not None:
            clauses.append(f"id IN ({matching[0]})")
            params.extend(matching[1])
    return clauses, params


def count(store: Store, query: ListQuery) -> int:
    """How many records the list holds."""
    return _count(store, query.kind, *_where(store, query))


def _count(store: Store, kind: str, clauses: list[str], params: list[Any]) -> int:
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    row = store.conn.execute(f"SELECT COUNT(*) FROM {_TABLES[kind]}{where}", params).fetchone()
    return int(row[0])


def page(store: Store, query: ListQuery, *, after: tuple[Any, ...] | None = None,
         before: tuple[Any, ...] | None = None, from_end: bool = False,
         size: int = 100, with_total: bool = False) -> Page:
    """One page of the list: the first (default), the one after or before a key,
    or the last (`from_end`); `with_total` also counts the whole list, with the same
    filters (a search runs once for both)."""
    columns, descending = SORTS[query.sort]
    clauses, params = _where(store, query)
    total = _count(store, query.kind, clauses, params) if with_total else None
    backwards = before is not None or from_end
    anchor = before if before is not None else after
    if anchor is not None:
        # Forwards in a descending sort means smaller keys, and so on.
        smaller = descending != backwards
        clauses.append(f"({', '.join(columns)}) {'<' if smaller else '>'} "
                       f"({', '.join('?' * len(columns))})")
        params.extend(anchor)
    direction = "DESC" if descending != backwards else "ASC"
    order = ", ".join(f"{column} {direction}" for column in columns)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = (f"SELECT {', '.join(_COLUMNS[query.kind])} FROM {_TABLES[query.kind]}{where} "
           f"ORDER BY {order} LIMIT ?")
    rows = select_dicts(store, sql, [*params, size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        return Page(rows, more_before=more, more_after=not from_end, total=total)
    return Page(rows, more_before=anchor is not None, more_after=more, total=total)


def overdue_flags(store: Store, rows: list[dict[str, Any]]) -> list[bool]:
    """Which problem rows are overdue today (derived, never stored)."""
    from villagebook.domain.rules import is_overdue

    today: dt.date = store.today()
    return [is_overdue(row.get("deadline"), row.get("status"), today) for row in rows]
