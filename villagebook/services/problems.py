"""The problem ledger (问题台账): entries, their status path and follow-ups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from villagebook.domain.change_rules import status_move_allowed
from villagebook.domain.enums import ProblemStatus, Role
from villagebook.domain.fields import PROBLEM
from villagebook.domain.rules import problem_moves
from villagebook.services import records
from villagebook.services.errors import Refused
from villagebook.store.node import Store


def create_problem(store: Store, data: Mapping[str, Any]) -> str:
    """Add a ledger entry for this node's own unit (status "open"); returns its id."""
    values = dict(data)
    values.setdefault("unit_code", store.node.unit_code)
    if values["unit_code"] != store.node.unit_code:
        raise Refused("A node keeps the ledger of its own unit ({unit}) only",
                      unit=store.node.unit_code)
    values.setdefault("status", ProblemStatus.OPEN.value)
    return records.create_record(store, "problem", values, owner=store.node.unit_code)


def get_problem(store: Store, problem_id: str) -> dict[str, Any]:
    """One ledger entry; RecordNotFound otherwise."""
    return records.require_record(store, "problem", problem_id)


def _own(store: Store, problem: Mapping[str, Any]) -> None:
    if problem["unit_code"] != store.node.unit_code:
        raise Refused("This ledger entry belongs to unit {unit}; only that unit may change it",
                      unit=problem["unit_code"])


def update_problem(store: Store, problem_id: str, data: Mapping[str, Any]) -> list[str]:
    """Edit a ledger entry; a `status` key must follow the status path."""
    problem = get_problem(store, problem_id)
    _own(store, problem)
    values = dict(data)
    if "status" in values:
        parsed = records.changed_values(PROBLEM, problem, {"status": values["status"]})
        if parsed:
            _check_move(problem, ProblemStatus(parsed["status"]), values, store.node.role)
    return records.update_record(store, "problem", problem_id, values,
                                 owner=problem["unit_code"])


def _check_move(problem: Mapping[str, Any], target: ProblemStatus,
                values: Mapping[str, Any], role: Role) -> None:
    current = ProblemStatus(problem["status"] or "open")
    if not status_move_allowed("problem", role, current.value, target.value):
        raise Refused("A problem moves from {current} to {allowed} only, not to {target}",
                      current=current, allowed=tuple(problem_moves(current)) or "-",
                      target=target)
    resolution = values.get("resolution", problem.get("resolution"))
    if target is ProblemStatus.RESOLVED and not (resolution and str(resolution).strip()):
        raise Refused("Describe the resolution before marking the problem resolved")


def move_problem(store: Store, problem_id: str, target: str,
                 resolution: str | None = None) -> list[str]:
    """Move a ledger entry one step along its path (with a resolution when resolving)."""
    values: dict[str, Any] = {"status": target}
    if resolution is not None:
        values["resolution"] = resolution
    return update_problem(store, problem_id, values)


def add_followup(store: Store, problem_id: str, text: str, author: str,
                 date: dt.date | str | None = None) -> str:
    """Add a dated, signed entry to a problem's timeline; returns its id."""
    problem = get_problem(store, problem_id)
    _own(store, problem)
    data = {"problem_id": problem_id, "text": text, "author": author,
            "date": date or store.today()}
    return records.create_record(store, "followup", data, owner=problem["unit_code"])


def followups_of(store: Store, problem_id: str) -> list[dict[str, Any]]:
    """A problem's timeline, oldest first."""
    return records.select_dicts(
        store,
        "SELECT id, date, author, text FROM followup WHERE problem_id = ? "
        "ORDER BY date, updated_hlc",
        (problem_id,),
    )


def delete_problem(store: Store, problem_id: str) -> None:
    """Delete one of this unit's ledger entries (a tombstone that travels)."""
    problem = get_problem(store, problem_id)
    _own(store, problem)
    records.delete_record(store, "problem", problem_id, owner=problem["unit_code"])
