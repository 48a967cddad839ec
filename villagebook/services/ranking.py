"""Ranking units for a period: the Cheetah (猎豹奖) and Sloth (树懒奖) awards.

A unit's score is the sum of the rubric's lines, each computed from records
alone (see `rank`), so any node holding the same records and rubric prints the
same ranking, and every point can be traced to the records behind it:

- expert scores: `weight_expert` × (mean of its case scores dated in the period) / 100,
  a case's score being the mean of its experts' scores;
- approved cases: `weight_approved` × min(approved in the period, target) / target;
- ledger problems resolved in time: `weight_resolved` × resolved-in-time / due, where
  *due* problems are those whose deadline falls in the period up to the as-of date
  and *in time* means resolved (per the change records' timestamps, in China time)
  on or before the deadline; no problem due gives no points;
- overdue problems: minus `overdue_penalty` for each due problem still unresolved
  on the as-of date.

The as-of date is the period's end, or today while the period runs. Villages
and communities are ranked apart from sections. Equal totals share a rank; the
Cheetah goes to units ranked within the top N with a positive score, the Sloth
to units ranked within the bottom N that have no Cheetah.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from villagebook.domain.clock import physical
from villagebook.domain.enums import CaseStatus, Role, UnitKind
from villagebook.domain.periods import Period
from villagebook.domain.rules import PROBLEM_DONE
from villagebook.services.evaluation import period_of, rubric_for, summarise
from villagebook.store.node import Store

#: Dates of change records are read in China Standard Time, wherever a node runs.
CHINA = dt.timezone(dt.timedelta(hours=8))
GROUPS = (UnitKind.VILLAGE, UnitKind.SECTION)
CHEETAH, SLOTH = "cheetah", "sloth"


@dataclass
class Line:
    """One line of a unit's score: what was counted and the points it gives."""

    item: str
    points: float
    facts: dict[str, Any]


@dataclass
class UnitScore:
    """A unit's place in the ranking, with the breakdown of its score."""

    code: str
    name: str
    kind: str
    township_code: str
    township_name: str
    lines: list[Line] = field(default_factory=list)
    rank: int = 0
    award: str | None = None

    @property
    def total(self) -> float:
        """The unit's score: its lines summed, to two decimals."""
        return round(sum(line.points for line in self.lines), 2)


@dataclass
class Ranking:
    """A period's ranking, group by group, with the rubric it used."""

    period: Period
    as_of: dt.date
    rubric: dict[str, int]
    rubric_set: bool
    groups: dict[str, list[UnitScore]]

    def awarded(self, award: str) -> list[UnitScore]:
        """Units holding `award`, group by group, best first."""
        return [u for kind in GROUPS for u in self.groups[kind.value] if u.award == award]

    def as_json(self) -> dict[str, Any]:
        """The `rank --json` document."""
        return {
            "period": self.period.code,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "rubric": {**self.rubric, "source": "district" if self.rubric_set else "default"},
            "groups": [
                {"kind": kind, "units": [_unit_json(u) for u in units]}
                for kind, units in self.groups.items()
            ],
            CHEETAH: [u.code for u in self.awarded(CHEETAH)],
            SLOTH: [u.code for u in self.awarded(SLOTH)],
        }


def _unit_json(unit: UnitScore) -> dict[str, Any]:
    return {
        "rank": unit.rank, "unit_code": unit.code, "unit_name": unit.name,
        "township_code": unit.township_code, "township_name": unit.township_name,
        "total": unit.total, "award": unit.award,
        "breakdown": [{"item": line.item, "points": round(line.points, 2), **line.facts}
                      for line in unit.lines],
    }


def ranked_units(store: Store) -> list[tuple[str, str, str, str, str]]:
    """(code, name, kind, township code, township name) of the units this node ranks."""
    node = store.node
    if node.role is Role.VILLAGE:
        where, params = "u.code = ?", (node.unit_code,)
    else:
        where = ("u.code IN (WITH RECURSIVE below(code) AS (SELECT code FROM unit "
                 "WHERE parent_code = ? UNION SELECT x.code FROM unit x JOIN below b "
                 "ON x.parent_code = b.code) SELECT code FROM below)")
        params = (node.unit_code,)
    rows = store.conn.execute(
        "SELECT u.code, coalesce(u.name, u.code), u.kind, coalesce(u.parent_code, ''), "
        "coalesce(t.name, u.parent_code, '') FROM unit u LEFT JOIN unit t "
        f"ON t.code = u.parent_code WHERE u.kind IN ('village', 'section') AND {where} "
        "ORDER BY u.code", params)
    return [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]


def rank(store: Store, period_text: str | None = None,
         today: dt.date | None = None) -> Ranking:
    """Rank this node's units for a period (default: the current year)."""
    today = today or store.today()
    period = period_of(period_text or str(today.year))
    as_of = min(period.end, today)
    rubric, rubric_set = rubric_for(store, period)
    units = ranked_units(store)
    codes = [u[0] for u in units]
    expert = _expert_means(store, period, codes)
    approved = _approved_counts(store, period, codes)
    ledgers = _ledger_facts(store, period, as_of, codes)
    groups: dict[str, list[UnitScore]] = {kind.value: [] for kind in GROUPS}
    for code, name, kind, township_code, township_name in units:
        unit = UnitScore(code, name, kind, township_code, township_name)
        unit.lines = _lines(rubric, expert.get(code), approved.get(code, 0),
                            ledgers.get(code, (0, 0, 0, 0)))
        groups[kind].append(unit)
    for members in groups.values():
        _place(members, rubric["top_n"], rubric["bottom_n"])
    return Ranking(period, as_of, rubric, rubric_set, groups)


def _lines(rubric: dict[str, int], expert: tuple[float, int] | None, approved: int,
           ledger: tuple[int, int, int, int]) -> list[Line]:
    weight, target = rubric["weight_expert"], rubric["approved_target"]
    mean, scored = expert if expert else (0.0, 0)
    due, in_time, late, overdue = ledger
    share = in_time / due if due else 0.0
    return [
        Line("expert_scores", weight * mean / 100,
             {"max": weight, "mean_case_score": round(mean, 2), "scored_cases": scored}),
        Line("approved_cases", rubric["weight_approved"] * min(approved, target) / target,
             {"max": rubric["weight_approved"], "approved": approved, "target": target}),
        Line("resolved_in_time", rubric["weight_resolved"] * share,
             {"max": rubric["weight_resolved"], "due": due, "in_time": in_time,
              "late": late}),
        Line("overdue_penalty", float(-(rubric["overdue_penalty"] * overdue)),
             {"overdue": overdue, "per_problem": rubric["overdue_penalty"]}),
    ]


def _place(members: list[UnitScore], top_n: int, bottom_n: int) -> None:
    members.sort(key=lambda u: (-u.total, u.code))
    totals = [u.total for u in members]
    for unit in members:
        unit.rank = 1 + sum(1 for t in totals if t > unit.total)
        from_bottom = 1 + sum(1 for t in totals if t < unit.total)
        if unit.rank <= top_n and unit.total > 0:
            unit.award = CHEETAH
        elif from_bottom <= bottom_n:
            unit.award = SLOTH


def _in(codes: list[str]) -> str:
    return ",".join("?" * len(codes))


def _expert_means(store: Store, period: Period,
                  codes: list[str]) -> dict[str, tuple[float, int]]:
    """Per unit: the mean of its cases' scores dated in the period, and how many cases."""
    if not codes:
        return {}
    rows = store.conn.execute(
        "SELECT c.unit_code, s.case_id, s.score FROM score s JOIN innovation_case c "
        f"ON c.id = s.case_id WHERE c.unit_code IN ({_in(codes)}) AND s.date BETWEEN ? AND ? "
        "AND s.score IS NOT NULL ORDER BY s.case_id",
        (*codes, period.start.isoformat(), period.end.isoformat()))
    by_case: dict[tuple[str, str], list[int]] = defaultdict(list)
    for unit, case_id, score in rows:
        by_case[(unit, case_id)].append(int(score))
    per_unit: dict[str, list[float]] = defaultdict(list)
    for (unit, _case), marks in sorted(by_case.items()):
        summary = summarise(marks)
        assert summary is not None
        per_unit[unit].append(summary.mean)
    return {unit: (sum(means) / len(means), len(means)) for unit, means in per_unit.items()}


def _approved_counts(store: Store, period: Period, codes: list[str]) -> dict[str, int]:
    """Per unit: cases its township approved in the period (still approved or scored)."""
    if not codes:
        return {}
    rows = store.conn.execute(
        "SELECT c.unit_code, count(DISTINCT c.id) FROM review r JOIN innovation_case c "
        f"ON c.id = r.case_id WHERE c.unit_code IN ({_in(codes)}) AND r.decision = 'approve' "
        "AND r.date BETWEEN ? AND ? AND c.status IN (?, ?) GROUP BY c.unit_code",
        (*codes, period.start.isoformat(), period.end.isoformat(),
         CaseStatus.APPROVED.value, CaseStatus.SCORED.value))
    return {str(unit): int(count) for unit, count in rows}


def resolution_dates(store: Store, problem_ids: Iterable[str]) -> dict[str, dt.date]:
    """When each (currently resolved) problem was last resolved, from its change records."""
    wanted = set(problem_ids)
    if not wanted:
        return {}
    rows = store.conn.execute(
        "SELECT record_id, hlc, json_extract(fields, '$.status') FROM change_set "
        "WHERE entity = 'problem' AND json_extract(fields, '$.status') IS NOT NULL "
        "ORDER BY record_id, hlc")
    resolved_at: dict[str, int | None] = {}
    for record_id, hlc, status in rows:
        if record_id not in wanted:
            continue
        if status in PROBLEM_DONE:
            if resolved_at.get(record_id) is None:
                resolved_at[record_id] = int(hlc)
        else:
            resolved_at[record_id] = None
    return {
        rid: dt.datetime.fromtimestamp(physical(hlc) / 1000, tz=CHINA).date()
        for rid, hlc in resolved_at.items() if hlc is not None
    }


def _ledger_facts(store: Store, period: Period, as_of: dt.date,
                  codes: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """Per unit: (due, resolved in time, resolved late, overdue on the as-of date)."""
    if not codes:
        return {}
    rows = store.conn.execute(
        f"SELECT id, unit_code, deadline, status FROM problem WHERE unit_code IN ({_in(codes)}) "
        "AND deadline BETWEEN ? AND ?",
        (*codes, period.start.isoformat(), as_of.isoformat())).fetchall()
    resolved = resolution_dates(store, (row[0] for row in rows if row[3] in PROBLEM_DONE))
    facts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for problem_id, unit, deadline, _status in rows:
        tally = facts[unit]
        tally[0] += 1
        on = resolved.get(problem_id)
        if on is not None and on.isoformat() <= deadline:
            tally[1] += 1
        elif on is not None and on <= as_of:
            tally[2] += 1
        else:
            tally[3] += 1
    return {unit: (t[0], t[1], t[2], t[3]) for unit, t in facts.items()}


def ranking_json(ranking: Ranking) -> str:
    """The canonical JSON text of a ranking (one line per call site to print)."""
    return json.dumps(ranking.as_json(), ensure_ascii=False, sort_keys=True, indent=1)


