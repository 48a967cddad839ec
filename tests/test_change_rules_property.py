"""One rule set for local writes and merges, as a property: whatever a village, its
township and the district write through the services (random cases, edits,
submissions, withdrawals, reviews, scores, ledger entries), and however their
bundles travel, every merge accepts it, and the domain's rule check passes every
change set each node wrote, judged against what that node held before it and
against everything it holds in the end."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node
from tests.sync_helpers import introduce, send
from villagebook.domain.change_rules import UnitPlace, judge
from villagebook.domain.enums import (
    ChangeAspect,
    Direction,
    ProblemCategory,
    ProblemSource,
    ReviewDecision,
    Role,
    Urgency,
)
from villagebook.domain.fields import ENTITIES
from villagebook.domain.validation import ValidationError
from villagebook.services import cases, evaluation, problems
from villagebook.services.errors import Refused
from villagebook.store.changelog import ChangeSet
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file
from villagebook.sync.trust import own_key

NAMES = ("village", "township", "district")
UNITS = {"village": VILLAGE, "township": TOWNSHIP, "district": DISTRICT}
ROLES = {"village": Role.VILLAGE, "township": Role.TOWNSHIP, "district": Role.DISTRICT}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rules-template")
    stores = {name: make_node(root / name, ROLES[name], UNITS[name]) for name in NAMES}
    for one, other in (("township", "village"), ("village", "township"),
                       ("district", "township"), ("township", "district")):
        introduce(stores[one], stores[other])
    for store in stores.values():
        store.close()
    return root


_dates = st.dates(dt.date(1949, 1, 1), dt.date(2100, 12, 31))
_text = st.text(alphabet="甲乙丙丁村镇案例 ab-1", min_size=0, max_size=12)
_name = st.text(alphabet="甲乙丙丁村镇案例ab-1", min_size=1, max_size=12)
_case = st.fixed_dictionaries({
    "title": _name, "lead_person": _name,
    "direction": st.sampled_from([*Direction.codes(), "流程再造"]),
}, optional={
    "contact": _text, "start_date": st.one_of(_dates, st.just("2026年3月1日")),
    "aspects": st.lists(st.sampled_from(ChangeAspect.codes()), max_size=4),
    "fault_tolerance": st.booleans(), "results": _text,
})
_problem = st.fixed_dictionaries({
    "title": _name, "category": st.sampled_from(ProblemCategory.codes()),
    "source": st.sampled_from(ProblemSource.codes()), "reported_date": _dates,
    "urgency": st.sampled_from(Urgency.codes()),
}, optional={"deadline": _dates, "responsible_person": _text})
# One case a step further along its whole path, whoever's step it is (drawn often, so
# that cases get reviewed, returned and scored).
_onward = st.tuples(st.just("onward"), st.integers(0, 3), st.sampled_from(list(ReviewDecision)),
                    st.integers(0, 100), st.integers(1, 4))
_ops = st.one_of(
    _onward, _onward, _onward,
    st.tuples(st.just("create"), _case),
    st.tuples(st.just("edit"), st.integers(0, 3),
              st.sampled_from(["title", "results", "start_date", "contact"]), _text),
    st.tuples(st.just("move"), st.integers(0, 3), st.sampled_from(["submitted", "draft"])),
    st.tuples(st.just("review"), st.integers(0, 3), st.sampled_from(list(ReviewDecision))),
    st.tuples(st.just("score"), st.integers(0, 3), st.integers(-5, 105), _dates),
    st.tuples(st.just("problem"), _problem),
    st.tuples(st.just("advance"), st.integers(0, 3), _text),
    st.tuples(st.just("sync"), st.sampled_from(["up", "down"])),
)


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stores = {name: Store(root / name) for name in NAMES}
        self.count = 0

    def ids(self, name: str, table: str, *statuses: str) -> list[str]:
        where = f"WHERE status IN ({','.join('?' * len(statuses))})" if statuses else ""
        return [r[0] for r in self.stores[name].conn.execute(
            f"SELECT id FROM {table} {where} ORDER BY id", statuses)]

    def carry(self, source: str, target: str) -> None:
        self.count += 1
        to = UNITS[target][0]
        bundle = send(self.stores[source], self.root / "sticks" / str(self.count), to)
        result = merge_file(self.stores[target], bundle)
        assert result.status in ("merged", "already"), (result.reason, result.error)

    def run(self, op: tuple[Any, ...]) -> None:
        village, township, district = (self.stores[n] for n in NAMES)
        kind = op[0]
        held = self.ids("village", "innovation_case")
        try:
            if kind == "create":
                cases.create_case(village, op[1])
            elif kind == "edit" and held:
                cases.update_case(village, held[op[1] % len(held)], {op[2]: op[3]})
            elif kind == "move" and held:
                cases.move_case(village, held[op[1] % len(held)], op[2])
            elif kind == "review":
                self.carry("village", "township")
                there = self.ids("township", "innovation_case", "submitted")
                if there:
                    cases.review_case(township, there[op[1] % len(there)], op[2], "意见",
                                      "李镇长")
            elif kind == "score":
                self.carry("township", "district")
                there = self.ids("district", "innovation_case", "approved", "scored")
                if there:
                    evaluation.score_case(district, there[op[1] % len(there)], "专家", op[2],
                                          date=op[3])
            elif kind == "problem":
                problems.create_problem(village, op[1])
            elif kind == "advance" and (ledger := self.ids("village", "problem")):
                problem_id = ledger[op[1] % len(ledger)]
                status = problems.get_problem(village, problem_id)["status"]
                target = {"open": "studying", "studying": "resolving",
                          "resolving": "resolved", "resolved": "closed"}.get(status)
                if target:
                    problems.move_problem(village, problem_id, target, op[2] or "已解决")
            elif kind == "onward" and held:
                for _ in range(op[4]):
                    self.onward(held[op[1] % len(held)], op[2], op[3])
        except (Refused, ValidationError):
            return  # the app said no: nothing was written
        if kind == "sync":
            path = [("village", "township"), ("township", "district")] if op[1] == "up" \
                else [("district", "township"), ("township", "village")]
            for source, target in path:
                self.carry(source, target)

    def onward(self, case_id: str, decision: ReviewDecision, score: int) -> None:
        village, township, district = (self.stores[n] for n in NAMES)
        status = cases.get_case(village, case_id)["status"]
        if status in ("draft", "returned"):
            cases.submit_case(village, case_id)
        elif status == "submitted":
            self.carry("village", "township")
            if cases.get_case(township, case_id)["status"] == "submitted":
                cases.review_case(township, case_id, decision, "意见", "李镇长")
            self.carry("township", "village")
        elif status == "approved":
            self.carry("township", "district")
            evaluation.score_case(district, case_id, "专家", score)
            self.carry("district", "township")
            self.carry("township", "village")

    def check_own_writes(self) -> None:
        for name, store in self.stores.items():
            key = own_key(store)
            rows = store.conn.execute(
                "SELECT seq, set_id, entity, record_id, hlc, device_id, unit, fields, "
                "replaces FROM change_set ORDER BY seq").fetchall()
            sets = [(row[0], ChangeSet(*row[1:7], json.loads(row[7]), json.loads(row[8])))
                    for row in rows]
            for seq, written in sets:
                if written.device_id != store.node.device_id:
                    continue
                same = [s for _, s in sets
                        if (s.entity, s.record_id) == (written.entity, written.record_id)]
                before = [s for n, s in sets if n < seq and s in same]
                place = UnitPlace(key.parent, key.role) if written.entity == "unit" else None
                for history in (before, same):
                    judge(ENTITIES[written.entity], written, ROLES[name], history, place)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=_case, ops=st.lists(_ops, min_size=3, max_size=20))
def test_whatever_the_services_write_passes_the_rules_merge_applies(
        template: Path, tmp_path_factory: pytest.TempPathFactory, first: dict[str, Any],
        ops: list[tuple[Any, ...]]) -> None:
    root = tmp_path_factory.mktemp("rules-world")
    for name in NAMES:
        shutil.copytree(template / name, root / name)
    world = World(root)
    try:
        for op in [("create", first), *ops, ("sync", "up"), ("sync", "down")]:
            world.run(op)
        world.check_own_writes()
        statuses = {row[0] for row in world.stores["district"].conn.execute(
            "SELECT status FROM innovation_case")}
        event("a case was scored" if "scored" in statuses else "no case scored")
    finally:
        for store in world.stores.values():
            store.close()
