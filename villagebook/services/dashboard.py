"""The figures of the dashboard: a handful of counting queries, each on an index."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from villagebook.domain.clock import pack
from villagebook.domain.enums import CaseStatus, Direction, ProblemStatus
from villagebook.domain.rules import PROBLEM_DONE
from villagebook.services.setup import unit_name
from villagebook.store.node import Store

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


def _counts(store: Store, table: str, column: str, codes: list[str]) -> dict[str, int]:
    found = dict(store.conn.execute(
        f"SELECT COALESCE({column}, ''), COUNT(*) FROM {table} GROUP BY 1").fetchall())
    return {code: int(found.get(code, 0)) for code in codes}


def _ms(iso: str) -> int | None:
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def figures(store: Store) -> Figures:
    """Every figure of the dashboard, read in one go."""
    node = store.node
    today = store.today()
    by_status = _counts(store, "problem", "status", ProblemStatus.codes())
    done = sorted(PROBLEM_DONE)
    overdue = store.conn.execute(
        "SELECT COUNT(*) FROM problem WHERE COALESCE(status, 'open') NOT IN (?, ?) "
        "AND deadline IS NOT NULL AND deadline != '' AND deadline < ?",
        (*done, today.isoformat())).fetchone()[0]
    month_start = dt.datetime(today.year, today.month, 1, tzinfo=dt.timezone.utc)
    # No resolution date is stored: a done problem last changed this month counts.
    resolved = store.conn.execute(
        "SELECT COUNT(*) FROM problem WHERE status IN (?, ?) AND updated_hlc >= ?",
        (*done, pack(int(month_start.timestamp() * 1000), 0))).fetchone()[0]
    last_export = store.get_setting(LAST_EXPORT_SETTING)
    since = _ms(last_export) if last_export else None
    unsent = store.conn.execute(
        "SELECT COUNT(*) FROM change_set WHERE device_id = ? AND hlc >= ?",
        (node.device_id, pack(since, 0) if since else 0)).fetchone()[0]
    return Figures(
        unit_code=node.unit_code,
        unit_name=unit_name(store, node.unit_code) or node.unit_code,
        role=node.role.value,
        today=today.isoformat(),
        cases_by_status=_counts(store, "innovation_case", "status", CaseStatus.codes()),
        cases_by_direction=_counts(store, "innovation_case", "direction", Direction.codes()),
        problems_by_status=by_status,
        problems_open=sum(n for code, n in by_status.items() if code not in PROBLEM_DONE),
        problems_overdue=int(overdue),
        problems_resolved_this_month=int(resolved),
        unsent_changes=int(unsent),
        last_export_at=last_export,
    )
