"""Innovation cases (创新案例): create, edit, submit, review, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from villagebook.domain.change_rules import content_editable, status_move_allowed
from villagebook.domain.enums import CaseStatus, ReviewDecision, Role
from villagebook.domain.fields import CASE
from villagebook.services import records
from villagebook.services.errors import Refused
from villagebook.store.node import Store

_DECISION_STATUS = {
    ReviewDecision.APPROVE: CaseStatus.APPROVED,
    ReviewDecision.RETURN: CaseStatus.RETURNED,
}


def create_case(store: Store, data: Mapping[str, Any]) -> str:
    """Log a new case for this node's own unit, as a draft; returns its id."""
    values = dict(data)
    values.setdefault("unit_code", store.node.unit_code)
    if values["unit_code"] != store.node.unit_code:
        raise Refused("A node logs cases for its own unit ({unit}) only",
                      unit=store.node.unit_code)
    if values.get("status", CaseStatus.DRAFT.value) != CaseStatus.DRAFT.value:
        raise Refused("A new case starts as a draft; submit it afterwards")
    values["status"] = CaseStatus.DRAFT.value
    return records.create_record(store, "case", values, owner=store.node.unit_code)


def get_case(store: Store, case_id: str) -> dict[str, Any]:
    """One case; RecordNotFound otherwise."""
    return records.require_record(store, "case", case_id)


def _own(store: Store, case: Mapping[str, Any]) -> None:
    if case["unit_code"] != store.node.unit_code:
        raise Refused("This case belongs to unit {unit}; only that unit may change it",
                      unit=case["unit_code"])


def update_case(store: Store, case_id: str, data: Mapping[str, Any]) -> list[str]:
    """Edit a case's content (draft or returned only); a `status` key moves it
    along the allowed path instead. Returns the changed field names."""
    case = get_case(store, case_id)
    values = dict(data)
    target = values.pop("status", None)
    changed: list[str] = []
    if values:
        _own(store, case)
        if not content_editable(case["status"]):
            raise Refused("This case is {status} and can no longer be edited",
                          status=CaseStatus(case["status"] or "draft"))
        changed = records.update_record(store, "case", case_id, values, owner=case["unit_code"])
    if target is not None:
        changed += move_case(store, case_id, str(target))
    return changed


def move_case(store: Store, case_id: str, target: str) -> list[str]:
    """Move a case to another status, if this node's role may make that move."""
    case = get_case(store, case_id)
    parsed = records.changed_values(CASE, case, {"status": target})
    if not parsed:
        return []
    current = CaseStatus(case["status"] or "draft")
    wanted = CaseStatus(parsed["status"])
    role = store.node.role
    if role is Role.VILLAGE:
        _own(store, case)
    if not status_move_allowed("case", role, current.value, wanted.value):
        raise Refused("A {role} node cannot move a case from {current} to {target}",
                      role=role.value, current=current.value, target=wanted.value)
    records.write_changes(store, "case", case_id, case["unit_code"], parsed)
    return ["status"]


def submit_case(store: Store, case_id: str) -> None:
    """Send a draft (or a returned case, revised) up for the township's review."""
    move_case(store, case_id, CaseStatus.SUBMITTED.value)


def review_case(
    store: Store, case_id: str, decision: ReviewDecision, comment: str, reviewer: str
) -> str:
    """The township's decision on a submitted case: a review record plus the
    case's new status, in one transaction. Returns the review's id."""
    case = get_case(store, case_id)
    if store.node.role is not Role.TOWNSHIP:
        raise Refused("Only a township node reviews cases")
    parent = store.conn.execute(
        "SELECT parent_code FROM unit WHERE code = ?", (case["unit_code"],)
    ).fetchone()
    if parent is None or parent[0] != store.node.unit_code:
        raise Refused("Unit {unit} is not under this township", unit=case["unit_code"])
    if case["status"] != CaseStatus.SUBMITTED.value:
        raise Refused("Only a submitted case can be reviewed; this one is {status}",
                      status=CaseStatus(case["status"] or "draft"))
    if decision is ReviewDecision.RETURN and not comment.strip():
        raise Refused("Say what to revise: a returned case needs a comment")
    with store.transaction():
        review_id = records.create_record(
            store,
            "review",
            {"case_id": case_id, "decision": decision.value, "comment": comment,
             "reviewer": reviewer, "date": store.today()},
            owner=case["unit_code"],
        )
        move_case(store, case_id, _DECISION_STATUS[decision].value)
    return review_id


def reviews_of(store: Store, case_id: str) -> list[dict[str, Any]]:
    """A case's reviews, latest first."""
    return records.select_dicts(
        store,
        "SELECT id, decision, comment, reviewer, date FROM review WHERE case_id = ? "
        "ORDER BY updated_hlc DESC",
        (case_id,),
    )


def delete_case(store: Store, case_id: str) -> None:
    """Delete one of this unit's cases (a tombstone that travels)."""
    case = get_case(store, case_id)
    _own(store, case)
    records.delete_record(store, "case", case_id, owner=case["unit_code"])
