"""The domain's rules of motion: which status may follow which, and what is derived.

Nothing here touches storage; the services ask these functions before writing.
"""

from __future__ import annotations

import datetime as dt

from villagebook.domain.enums import CaseStatus, ProblemStatus, Role

#: Statuses in which the unit may still edit a case's content.
CASE_EDITABLE = frozenset({CaseStatus.DRAFT, CaseStatus.RETURNED})

_CASE_MOVES: dict[Role, set[tuple[CaseStatus, CaseStatus]]] = {
    Role.VILLAGE: {
        (CaseStatus.DRAFT, CaseStatus.SUBMITTED),
        (CaseStatus.RETURNED, CaseStatus.SUBMITTED),
        (CaseStatus.SUBMITTED, CaseStatus.DRAFT),
    },
    Role.TOWNSHIP: {
        (CaseStatus.SUBMITTED, CaseStatus.APPROVED),
        (CaseStatus.SUBMITTED, CaseStatus.RETURNED),
    },
    Role.DISTRICT: {
        (CaseStatus.APPROVED, CaseStatus.SCORED),
    },
}

PROBLEM_ORDER = (
    ProblemStatus.OPEN,
    ProblemStatus.STUDYING,
    ProblemStatus.RESOLVING,
    ProblemStatus.RESOLVED,
    ProblemStatus.CLOSED,
)
PROBLEM_DONE = frozenset({ProblemStatus.RESOLVED, ProblemStatus.CLOSED})


def case_move_allowed(role: Role, current: CaseStatus, target: CaseStatus) -> bool:
    """Whether a node of `role` may move a case from `current` to `target`."""
    return (current, target) in _CASE_MOVES.get(role, set())


def problem_moves(current: ProblemStatus) -> list[ProblemStatus]:
    """Statuses a ledger entry may move to from `current`.

    One step forward at a time (a problem is studied before it is resolved, and
    verified before it is closed), or one step back from "resolved" when the fix
    did not hold.
    """
    index = PROBLEM_ORDER.index(current)
    moves = list(PROBLEM_ORDER[index + 1 : index + 2])
    if current is ProblemStatus.RESOLVED:
        moves.append(ProblemStatus.RESOLVING)
    return moves


def is_overdue(deadline: str | None, status: str | None, today: dt.date) -> bool:
    """Overdue (超期): a deadline in the past and not yet resolved. Derived, never stored."""
    if not deadline:
        return False
    if status in PROBLEM_DONE:
        return False
    return deadline < today.isoformat()
