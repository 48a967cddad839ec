"""Order-independence, as a property: four nodes (two laptops of one village, the
township, the district) make random edits, deletes and scores, swap bundles in
random orders with duplicates (the laptops also directly with each other, the
township a third party), and after a final round all print the same dump.

Their clocks disagree: each may run a few hours fast or slow (within the drift
bound), or jump ten years ahead and later be set right. What a node stamps in the
future is held aside by the others; once its clock is right it re-dates those
changes, and the final dumps still agree."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node
from tests.sync_helpers import CASE, introduce, send
from villagebook.domain.clock import ClockVerdict
from villagebook.domain.enums import Role
from villagebook.services import cases, records
from villagebook.services.dump import dump_json
from villagebook.store.node import Store, system_ms
from villagebook.sync.merge import merge_file

NAMES = ("a", "b", "t", "d")
LAPTOPS = ("a", "b")
#: The two laptops also swap bundles directly (`export --to` their own unit).
NEIGHBOURS = {"a": ("t", "b"), "b": ("t", "a"), "t": ("a", "b", "d"), "d": ("t",)}
UNITS = {"a": VILLAGE[0], "b": VILLAGE[0], "t": TOWNSHIP[0], "d": DISTRICT[0]}
HOUR = 3600 * 1000
#: Clock errors within the drift bound (no two further apart than 24 hours).
SKEWS = (0, 3 * HOUR, -3 * HOUR, 20 * HOUR)
TEN_YEARS = 3653 * 24 * HOUR


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    a = make_node(root / "a", Role.VILLAGE, VILLAGE)
    b = make_node(root / "b", Role.VILLAGE, VILLAGE)
    t = make_node(root / "t", Role.TOWNSHIP, TOWNSHIP)
    d = make_node(root / "d", Role.DISTRICT, DISTRICT)
    # The two laptops of the village trust each other: each hands the other over, so
    # the township relays one's segments to the other and up to the district.
    for one, other in ((t, a), (t, b), (a, t), (b, t), (d, t), (t, d), (a, b), (b, a)):
        introduce(one, other)
    # Both laptops (and everyone) start from the same two cases, so that random edits
    # on the two laptops often touch the same field: true conflicts.
    for number in range(2):
        cases.create_case(a, {**CASE, "title": f"共同案例{number}"})
    merge_file(t, send(a, root / "seed", TOWNSHIP[0]))
    merge_file(b, send(t, root / "seed", VILLAGE[0]))
    merge_file(d, send(t, root / "seed", DISTRICT[0]))
    for store in (a, b, t, d):
        store.close()
    return root


_edit = st.tuples(st.just("edit"), st.sampled_from(LAPTOPS), st.integers(0, 1),
                  st.sampled_from(["title", "results"]),
                  st.sampled_from(["甲", "乙", "丙", "丁"]))
_ops = st.one_of(
    _edit,
    # Both laptops edit the same field before they meet: a true conflict.
    st.tuples(st.just("clash"), st.just("a"), st.integers(0, 1),
              st.sampled_from(["title", "results"]), st.integers(0, 1000)),
    st.tuples(st.just("create"), st.sampled_from(LAPTOPS), st.integers(0, 99)),
    st.tuples(st.just("delete"), st.sampled_from(LAPTOPS), st.integers(0, 3)),
    st.tuples(st.just("score"), st.just("d"), st.integers(0, 3), st.integers(0, 100)),
    st.tuples(st.just("send"), st.sampled_from(NAMES), st.integers(0, 2)),
    # One laptop writes a bundle for the other (NEIGHBOURS[laptop][1]).
    st.tuples(st.just("send"), st.sampled_from(LAPTOPS), st.just(1)),
    st.tuples(st.just("merge"), st.sampled_from(NAMES), st.integers(0, 1000)),
    st.tuples(st.just("skew"), st.sampled_from(NAMES), st.sampled_from(SKEWS)),
    # A laptop's clock jumps ten years ahead; later someone sets it right.
    st.tuples(st.just("skew"), st.sampled_from(NAMES), st.just(TEN_YEARS)),
)


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.offset = dict.fromkeys(NAMES, 0)
        self.nodes = {name: Store(root / name, wall_ms=self._wall(name)) for name in NAMES}
        self.inbox: dict[str, list[Path]] = {name: [] for name in NAMES}
        self.count = 0
        self.direct = 0  # bundles one laptop wrote for the other

    def _wall(self, name: str) -> Callable[[], int]:
        return lambda: system_ms() + self.offset[name]

    def close(self) -> None:
        for store in self.nodes.values():
            store.close()

    def set_clocks_right(self) -> None:
        """Every clock ten years ahead is set right (small errors stay). A node that
        heard from another node running ahead with it takes the documented way back."""
        for name, store in self.nodes.items():
            if self.offset[name] == TEN_YEARS:
                self.offset[name] = 0
            if store.clock_reading().verdict is ClockVerdict.BEHIND:
                with store.transaction():
                    store.settle_clock(force=True)  # villagebook clock --redate

    def case_ids(self, name: str) -> list[str]:
        return [row[0] for row in self.nodes[name].conn.execute(
            "SELECT id FROM innovation_case ORDER BY id")]

    def send(self, source: str, target: str, *, full: bool = False) -> None:
        self.count += 1
        self.direct += source in LAPTOPS and target in LAPTOPS
        folder = self.root / "sticks" / str(self.count)
        self.inbox[target].append(send(self.nodes[source], folder, UNITS[target], full=full))

    def merge(self, name: str, seed: int) -> None:
        pending = list(self.inbox[name])
        rng = random.Random(seed)
        rng.shuffle(pending)
        pending += rng.sample(pending, k=min(2, len(pending)))  # duplicates, late copies
        for bundle in pending:
            result = merge_file(self.nodes[name], bundle)
            assert result.status in ("merged", "already"), result.error
        self.inbox[name].clear()

    def run(self, op: tuple) -> None:  # type: ignore[type-arg]
        kind, name = op[0], op[1]
        store = self.nodes[name]
        ids = self.case_ids(name)
        if kind == "create":
            cases.create_case(store, {**CASE, "title": f"案例{op[2]}"})
        elif kind == "edit" and ids:
            cases.update_case(store, ids[op[2] % len(ids)], {op[3]: op[4]})
        elif kind == "clash" and ids:
            for laptop in LAPTOPS:
                held = self.case_ids(laptop)
                if held:
                    cases.update_case(self.nodes[laptop], held[op[2] % len(held)],
                                      {op[3]: f"{laptop}{op[4]}"})
        elif kind == "delete" and ids:
            cases.delete_case(store, ids[op[2] % len(ids)])
        elif kind == "score" and ids:
            case_id = ids[op[2] % len(ids)]
            owner = store.conn.execute("SELECT unit_code FROM innovation_case WHERE id = ?",
                                       (case_id,)).fetchone()[0]
            records.create_record(store, "score", {"case_id": case_id, "expert": "专家",
                                                   "score": op[3], "date": "2026-11-01"},
                                  owner=owner)
        elif kind == "send":
            self.send(name, NEIGHBOURS[name][op[2] % len(NEIGHBOURS[name])])
        elif kind == "merge":
            self.merge(name, op[2])
        elif kind == "skew":
            self.offset[name] = op[2]

    def settle(self) -> None:
        # What a laptop ten years ahead wrote reaches a neighbour before its clock is
        # set right, to be held aside there; afterwards only re-dated copies travel.
        ahead = [name for name in NAMES if self.offset[name] == TEN_YEARS]
        for name in ahead:
            self.send(name, NEIGHBOURS[name][0])
        for name in sorted({NEIGHBOURS[name][0] for name in ahead}):
            self.merge(name, 0)
        self.set_clocks_right()
        for laptop in LAPTOPS:
            self.send(laptop, "t")
        self.merge("t", 1)
        self.send("t", "d")
        self.merge("d", 2)
        self.send("d", "t")
        self.merge("t", 3)
        for name in (*LAPTOPS, "d"):
            self.send("t", name)
            self.merge(name, 4)


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(ops=st.lists(_ops, min_size=2, max_size=16))
def test_any_merge_order_on_any_node_gives_the_same_dump(
        template: Path, tmp_path_factory: pytest.TempPathFactory,
        ops: list) -> None:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("world")
    for name in NAMES:
        shutil.copytree(template / name, root / name)
    world = World(root)
    try:
        for op in ops:
            world.run(op)
        world.settle()
        dumps = {name: dump_json(store) for name, store in world.nodes.items()}
        held = world.nodes["t"].conn.execute("SELECT count(*) FROM conflict").fetchone()[0]
        event("conflicts" if held else "no conflicts")
        event("re-dated" if any(s.redated for s in world.nodes.values()) else "none re-dated")
        aside = sum(s.conn.execute("SELECT count(*) FROM sync_held").fetchone()[0]
                    for s in world.nodes.values())
        event("some held aside" if aside else "none held aside")
        event("laptops met directly" if world.direct else "laptops met only at the township")
        assert len(set(dumps.values())) == 1, {n: d[:300] for n, d in dumps.items()}
    finally:
        world.close()
