"""The figures of the dashboard: a handful of counting queries, each on an index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from villagebook.domain.clock import pack
from villagebook.domain.enums import CaseStatus, Direction, ProblemStatus
from villagebook.domain.rules import PROBLEM_DONE
from villagebook.services.setup import unit_name
from villagebook.store.node import Store

T = TypeVar("T")

#: Statuses of a problem not yet resolved (NULL counts as open).
OPEN_STATUSES = tuple(s.value for s in ProblemStatus if s not in PROBLEM_DONE)
#: Overdue, written so that SQLite counts it on the (status, deadline) index.
OVERDUE_SQL = (f"(status IN ({', '.join('?' * len(OPEN_STATUSES))}) OR status IS NULL) "
               "AND deadline != '' AND deadline < ?")

#: Setting written by the export (sync) when a bundle was written: ISO 8601 time.
LAST_EXPORT_SETTING = "last_export_at"


@dataclass(frozen=True)
class Figures:
    """What the dashboard shows; every count leads to the list behind it."""

    unit_code: str
    unit_name: str
    role: str
    today: str
    cases_by_status: dict[str, int]
    cases_by_direction: dict[str, int]
    problems_by_status: dict[str, int]
    problems_open: int
    problems_overdue: int
    problems_resolved_this_month: int
    unsent_changes: int
    last_export_at: str | None


def _ms(iso: str) -> int | None:
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def case_counts(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    """Cases by status and by direction, in one pass over the table."""
    by_status = dict.fromkeys(CaseStatus.codes(), 0)
    by_direction = dict.fromkeys(Direction.codes(), 0)
    rows = store.conn.execute(
        "SELECT COALESCE(status, 'draft'), COALESCE(direction, ''), COUNT(*) "
        "FROM innovation_case GROUP BY 1, 2")
    for status, direction, number in rows:
        by_status[status] = by_status.get(status, 0) + number
        if direction in by_direction:
            by_direction[direction] += number
    return by_status, by_direction


def problem_counts(store: Store) -> tuple[dict[str, int], int, int]:
    """Problems by status, overdue today, and done this month."""
    today = store.today()
    by_status = dict.fromkeys(ProblemStatus.codes(), 0)
    for status, number in store.conn.execute(
            "SELECT status, COUNT(*) FROM problem GROUP BY status"):
        key = status or ProblemStatus.OPEN.value
        by_status[key] = by_status.get(key, 0) + number
    done = sorted(PROBLEM_DONE)
    overdue = store.conn.execute(
        f"SELECT COUNT(*) FROM problem WHERE {OVERDUE_SQL}",
        (*OPEN_STATUSES, today.isoformat())).fetchone()[0]
    month_start = dt.datetime(today.year, today.month, 1, tzinfo=dt.timezone.utc)
    # No resolution date is stored: a done problem last changed this month counts.
    resolved = store.conn.execute(
        "SELECT COUNT(*) FROM problem WHERE status IN (?, ?) AND updated_hlc >= ?",
        (*done, pack(int(month_start.timestamp() * 1000), 0))).fetchone()[0]
    return by_status, int(overdue), int(resolved)


def local_moment(iso: str) -> str:
    """A stored ISO 8601 moment (UTC where it names no zone) as people read it on this
    laptop: its local date and time, `2026-06-01 18:00`; the text itself if unreadable."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def unsent_count(store: Store) -> tuple[int, str | None]:
    """Changes made on this device since the last export (all of them if never exported)."""
    last_export = store.get_setting(LAST_EXPORT_SETTING)
    since = _ms(last_export) if last_export else None
    unsent = store.conn.execute(
        "SELECT COUNT(*) FROM change_set WHERE device_id = ? AND hlc >= ?",
        (store.node.device_id, pack(since, 0) if since else 0)).fetchone()[0]
    return int(unsent), last_export


def _assemble(store: Store, cases: tuple[dict[str, int], dict[str, int]],
              problems: tuple[dict[str, int], int, int],
              unsent: tuple[int, str | None]) -> Figures:
    node = store.node
    by_status, overdue, resolved = problems
    return Figures(
        unit_code=node.unit_code,
        unit_name=unit_name(store, node.unit_code) or node.unit_code,
        role=node.role.value,
        today=store.today().isoformat(),
        cases_by_status=cases[0],
        cases_by_direction=cases[1],
        problems_by_status=by_status,
        problems_open=sum(n for code, n in by_status.items() if code not in PROBLEM_DONE),
        problems_overdue=overdue,
        problems_resolved_this_month=resolved,
        unsent_changes=unsent[0],
        last_export_at=unsent[1],
    )


def figures(store: Store) -> Figures:
    """Every figure of the dashboard, read one after the other on `store`."""
    return _assemble(store, case_counts(store), problem_counts(store), unsent_count(store))


def read_figures(home: Path) -> Figures:
    """Every figure of the dashboard, the three groups read at once on three connections
    (SQLite releases the GIL while it counts, so an old dual-core laptop halves the wait)."""
    def run(part: Callable[[Store], T]) -> T:
        with Store(home) as store:
            return part(store)

    with ThreadPoolExecutor(max_workers=3) as pool:
        cases = pool.submit(run, case_counts)
        problems = pool.submit(run, problem_counts)
        unsent = pool.submit(run, unsent_count)
        with Store(home) as store:
            return _assemble(store, cases.result(), problems.result(), unsent.result())
