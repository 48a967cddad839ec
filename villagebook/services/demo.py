"""Realistic, deterministic demo records for trying VillageBook out.

The same `--seed` always makes the same records (ids included) for the same
units. A village node gets records of its own unit; a township or district
node gets records for the units under it, creating Lishui's units if it knows
none yet. Demo records are written by this node's device, so they stay on this
node: a township's bundles may not carry records of its villages' own.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from villagebook.domain.authority import Writer, required_writer
from villagebook.domain.enums import (
    CaseStatus,
    ChangeAspect,
    Direction,
    Principle,
    ProblemCategory,
    ProblemSource,
    ProblemStatus,
    Role,
    UnitKind,
    Urgency,
)
from villagebook.services import demo_text as text
from villagebook.services.errors import Refused
from villagebook.services.progress import SILENT, Progress, counted
from villagebook.services.records import bulk_create, get_record
from villagebook.store.node import Store

#: Demo dates spread over the three years before this day (fixed, for determinism).
ANCHOR = dt.date(2026, 10, 31)
SPAN_DAYS = 3 * 365


@dataclass(frozen=True)
class DemoSummary:
    """What `demo` made."""

    units: int
    cases: int
    problems: int
    followups: int


#: How often each case status appears in demo data.
_CASE_WEIGHTS = {CaseStatus.DRAFT: 30, CaseStatus.SUBMITTED: 25, CaseStatus.APPROVED: 25,
                 CaseStatus.RETURNED: 10, CaseStatus.SCORED: 10}


def _case_statuses(role: Role) -> dict[CaseStatus, int]:
    """The case statuses a node's demo writes, with their weights. A village writes only
    what it may send itself (draft, submitted): approval, return and scoring are its
    township's and district's to write, and a status it may not send would reach them
    as no status at all. Townships and districts make demo records for the units under
    them, which stay on that node, so every status appears there."""
    if role is not Role.VILLAGE:
        return _CASE_WEIGHTS
    return {status: weight for status, weight in _CASE_WEIGHTS.items()
            if required_writer("case", "status", status.value) is Writer.OWNER}


class _Maker:
    def __init__(self, seed: int, units: list[tuple[str, str]],
                 statuses: dict[CaseStatus, int]) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.units = units
        self.statuses = statuses

    def uid(self, *parts: object) -> str:
        # Deterministic ids: a UUID derived from the seed and the record's place.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"villagebook-demo:{self.seed}:{parts}"))

    def person(self) -> str:
        return self.rng.choice(text.SURNAMES) + self.rng.choice(text.GIVEN)

    def day(self, low: int = 0, high: int = SPAN_DAYS) -> dt.date:
        return ANCHOR - dt.timedelta(days=self.rng.randint(low, high))

    def figures(self) -> dict[str, int]:
        """One draw of the numbers a case's results and recognition quote."""
        rng = self.rng
        a = rng.randint(7, 30)
        return {"a": a, "b": rng.randint(1, max(1, a // 3)), "n": rng.randint(50, 5000),
                "p": rng.randint(85, 99), "m": rng.randint(5, 300), "k": rng.randint(3, 120)}

    def case(self, index: int) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        code, name = rng.choice(self.units)
        topic, method = rng.choice(text.CASE_TOPICS), rng.choice(text.CASE_METHODS)
        status = rng.choices(list(self.statuses), weights=list(self.statuses.values()))[0]
        fault = rng.random() < 0.08
        figures = self.figures()
        data: dict[str, Any] = {
            "unit_code": code,
            "title": f"{name}{method}推动{topic}",
            "lead_person": self.person(),
            "contact": f"139{rng.randint(0, 99_999_999):08d}",
            "start_date": self.day(),
            "direction": rng.choice(list(Direction)).value,
            "aspects": rng.sample(ChangeAspect.codes(), rng.randint(1, 3)),
            "problem_addressed": f"{topic}工作中{rng.choice(text.PROBLEM_EFFECTS)}",
            "measures": "；".join(rng.sample(text.MEASURES, 2)),
            "results": "，".join(t.format(**figures) for t in rng.sample(text.RESULTS, 2)),
            "public_recognition": rng.choice(text.RECOGNITION).format(**figures),
            "principles": rng.sample(Principle.codes(), rng.randint(3, 5)),
            "fault_tolerance": fault,
            "fault_tolerance_reason": "试点期间受客观因素影响，未达预期目标" if fault else None,
            "status": status.value,
        }
        return self.uid("case", index), code, data

    def problem(self, index: int) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        code, name = rng.choice(self.units)
        reported = self.day(30)
        status = rng.choices(list(ProblemStatus), weights=(20, 20, 20, 25, 15))[0]
        data: dict[str, Any] = {
            "unit_code": code,
            "title": f"{rng.choice(text.PROBLEM_SUBJECTS)}，{rng.choice(text.PROBLEM_EFFECTS)}",
            "description": f"{name}{rng.choice(text.PROBLEM_SUBJECTS)}，"
                           f"涉及群众{rng.randint(20, 800)}户，{rng.choice(text.PROBLEM_EFFECTS)}",
            "category": rng.choice(list(ProblemCategory)).value,
            "source": rng.choice(list(ProblemSource)).value,
            "reported_date": reported,
            "reporter": self.person(),
            "urgency": rng.choice(list(Urgency)).value,
            "responsible_person": self.person(),
            # Deadlines fall both before and after the anchor, so some entries are overdue.
            "deadline": reported + dt.timedelta(days=rng.randint(15, 400)),
            "status": status.value,
        }
        if status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
            data["resolution"] = rng.choice(text.RESOLUTIONS)
        return self.uid("problem", index), code, data

    def followups(self, problem_id: str, owner: str,
                  problem: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        steps = ProblemStatus(problem["status"])
        count = list(ProblemStatus).index(steps) + self.rng.randint(0, 1)
        for step in range(count):
            date = problem["reported_date"] + dt.timedelta(days=7 * (step + 1))
            yield self.uid("followup", problem_id, step), owner, {
                "problem_id": problem_id,
                "date": min(date, ANCHOR),
                "author": self.person(),
                "text": self.rng.choice(text.FOLLOWUPS),
            }


def _demo_units(store: Store) -> list[tuple[str, str]]:
    """The units demo records belong to, creating Lishui's units under this node if needed."""
    node = store.node
    if node.role is Role.VILLAGE:
        row = store.conn.execute("SELECT name FROM unit WHERE code = ?",
                                 (node.unit_code,)).fetchone()
        return [(node.unit_code, row[0] if row else node.unit_code)]
    existing = _leaf_units(store, node.unit_code)
    if existing:
        return existing
    unit_items: list[tuple[str, str, dict[str, Any]]] = []
    townships = text.TOWNSHIPS if node.role is Role.DISTRICT else text.TOWNSHIPS[:1]
    for township_code, township_name, villages in townships:
        parent = township_code
        if node.role is Role.DISTRICT:
            unit_items.append((township_code, township_code, {
                "code": township_code, "name": township_name,
                "kind": UnitKind.TOWNSHIP.value, "parent_code": node.unit_code}))
        else:
            parent = node.unit_code
        for offset, village in enumerate(villages):
            code = f"{parent[:9]}{201 + offset:03d}"
            unit_items.append((code, code, {"code": code, "name": village,
                                            "kind": UnitKind.VILLAGE.value,
                                            "parent_code": parent}))
    bulk_create(store, "unit", unit_items)
    return _leaf_units(store, node.unit_code)


def _leaf_units(store: Store, root: str) -> list[tuple[str, str]]:
    rows = store.conn.execute(
        "WITH RECURSIVE below(code) AS (SELECT code FROM unit WHERE parent_code = ? "
        "UNION SELECT u.code FROM unit u JOIN below b ON u.parent_code = b.code) "
        "SELECT u.code, coalesce(u.name, u.code) FROM unit u JOIN below b ON u.code = b.code "
        "WHERE u.kind IN ('village', 'section') ORDER BY u.code",
        (root,),
    )
    return [(str(code), str(name)) for code, name in rows]


def generate(store: Store, cases: int = 20, problems: int = 30, seed: int = 1,
             progress: Progress = SILENT) -> DemoSummary:
    """Fill this node with demo records; refuses to add the same seed twice.
    `progress` counts the cases and problems made."""
    if cases < 0 or problems < 0:
        raise Refused("Counts cannot be negative")
    with store.transaction():
        return _generate(store, cases, problems, seed, progress)


def _generate(store: Store, cases: int, problems: int, seed: int,
              progress: Progress) -> DemoSummary:
    units_before = store.conn.execute("SELECT count(*) FROM unit").fetchone()[0]
    units = _demo_units(store)
    maker = _Maker(seed, units, _case_statuses(store.node.role))
    if get_record(store, "case", maker.uid("case", 0)) or get_record(
        store, "problem", maker.uid("problem", 0)
    ):
        raise Refused("Demo records of seed {seed} are already here; use another --seed",
                      seed=seed)
    progress.start(cases + problems)
    made_cases = bulk_create(store, "case",
                             counted((maker.case(i) for i in range(cases)), progress))
    problem_items = list(counted((maker.problem(i) for i in range(problems)), progress))
    made_problems = bulk_create(store, "problem", problem_items)
    made_followups = bulk_create(
        store, "followup",
        (item for rid, owner, data in problem_items for item in maker.followups(rid, owner, data)),
    )
    units_after = store.conn.execute("SELECT count(*) FROM unit").fetchone()[0]
    return DemoSummary(units_after - units_before, made_cases, made_problems, made_followups)
