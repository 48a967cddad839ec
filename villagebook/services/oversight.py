"""What a township watches: its review queue and its units' ledgers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from villagebook.domain.enums import CaseStatus, ReviewDecision, Role
from villagebook.domain.rules import is_overdue
from villagebook.services.cases import review_case
from villagebook.services.ranking import ranked_units
from villagebook.store.node import Store


@dataclass(frozen=True)
class QueuedCase:
    """A submitted case waiting for the township's decision."""

    case_id: str
    unit_code: str
    unit_name: str
    title: str
    lead_person: str
    updated_hlc: int
    returned_before: int


def review_queue(store: Store) -> list[QueuedCase]:
    """Submitted cases of this township's units, oldest submission first.

    A submitted case cannot be edited, so its last change is its submission.
    """
    rows = store.conn.execute(
        "SELECT c.id, c.unit_code, coalesce(u.name, c.unit_code), coalesce(c.title, ''), "
        "coalesce(c.lead_person, ''), c.updated_hlc, "
        "(SELECT count(*) FROM review r WHERE r.case_id = c.id AND r.decision = 'return') "
        "FROM innovation_case c JOIN unit u ON u.code = c.unit_code "
        "WHERE c.status = ? AND u.parent_code = ? ORDER BY c.updated_hlc, c.id",
        (CaseStatus.SUBMITTED.value, store.node.unit_code))
    return [QueuedCase(*row) for row in rows]


def decide(store: Store, case_id: str, decision: ReviewDecision, comment: str,
           reviewer: str) -> str:
    """The township's decision on a case waiting in its queue; returns the review's id.

    Only a submitted case is decided (`review_case` refuses any other): deciding
    twice would leave two reviews of one submission (the status would not move, but
    the record would travel).
    """
    return review_case(store, case_id, decision, comment.strip(), reviewer.strip())


def is_reviewer(store: Store) -> bool:
    """Whether this node reviews cases (a township)."""
    return store.node.role is Role.TOWNSHIP


@dataclass(frozen=True)
class LedgerRow:
    """One ledger entry as the township overview shows it."""

    problem_id: str
    unit_code: str
    unit_name: str
    title: str
    status: str
    urgency: str
    deadline: str | None
    responsible_person: str
    overdue: bool


def ledger_overview(store: Store, unit_code: str | None = None,
                    today: dt.date | None = None) -> list[LedgerRow]:
    """Ledger entries of this node's units (or of one), overdue first, then by deadline."""
    today = today or store.today()
    codes = [u[0] for u in ranked_units(store)]
    if unit_code is not None:
        codes = [code for code in codes if code == unit_code]
    if not codes:
        return []
    rows = store.conn.execute(
        "SELECT p.id, p.unit_code, coalesce(u.name, p.unit_code), coalesce(p.title, ''), "
        "coalesce(p.status, 'open'), coalesce(p.urgency, ''), p.deadline, "
        "coalesce(p.responsible_person, '') FROM problem p LEFT JOIN unit u "
        f"ON u.code = p.unit_code WHERE p.unit_code IN ({','.join('?' * len(codes))})",
        codes).fetchall()
    items = [LedgerRow(pid, unit, name, title, status, urgency, deadline, person,
                       is_overdue(deadline, status, today))
             for pid, unit, name, title, status, urgency, deadline, person in rows]
    items.sort(key=lambda r: (not r.overdue, r.deadline or "9999", r.unit_code, r.problem_id))
    return items


def ledger_units(store: Store) -> list[dict[str, Any]]:
    """Per unit of this node: how many ledger entries, open ones and overdue ones."""
    today = store.today()
    counts: dict[str, dict[str, Any]] = {
        code: {"unit_code": code, "unit_name": name, "problems": 0, "open": 0, "overdue": 0}
        for code, name, *_rest in ranked_units(store)
    }
    for row in ledger_overview(store, today=today):
        tally = counts[row.unit_code]
        tally["problems"] += 1
        tally["open"] += row.status not in ("resolved", "closed")
        tally["overdue"] += row.overdue
    return sorted(counts.values(), key=lambda t: (-t["overdue"], t["unit_code"]))
