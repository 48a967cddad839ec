"""The app's own rules hold for what trusted peers send: a village signing with its
own key cannot set its scored case back to draft, rewrite it after scoring, move
itself to another township, or store values no form could have written; the
district cannot give a score of 1000. Each such bundle is refused on the command
line with exit 1, nothing changes, and the reports still print. Honest histories
(a withdrawal racing an approval, an edit after a return) still merge everywhere."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import (
    CASE,
    Nodes,
    change_line,
    forge,
    introduce,
    send,
    state,
    three_nodes,
)
from villagebook.domain.enums import ReviewDecision, Role
from villagebook.services import cases, evaluation
from villagebook.services.demo import generate
from villagebook.store import changelog
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file

NEW_CASE = "0199aaaa-0000-7000-8000-0000000000c1"
SCORE_ID = "0199aaaa-0000-7000-8000-0000000000d1"


@dataclass
class Scored:
    """Three nodes that all hold one case, submitted, approved and scored."""

    nodes: Nodes
    case_id: str
    root: Path


@pytest.fixture(scope="module")
def scored_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: three nodes that all hold one case, submitted, approved, scored."""
    root = tmp_path_factory.mktemp("scored")
    with three_nodes(root) as n:
        case_id = cases.create_case(n.village, {**CASE, "start_date": "2026-03-01"})
        cases.submit_case(n.village, case_id)
        assert merge_file(n.township, send(n.village, root / "up")).status == "merged"
        cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "做法可推广", "李镇长")
        assert merge_file(n.district, send(n.township, root / "up2")).status == "merged"
        evaluation.score_case(n.district, case_id, "张教授", 88)
        down = send(n.district, root / "down", TOWNSHIP[0])
        assert merge_file(n.township, down).status == "merged"
        assert merge_file(n.village, send(n.township, root / "down2",
                                          VILLAGE[0])).status == "merged"
        assert cases.get_case(n.village, case_id)["status"] == "scored"
        (root / "case_id").write_text(case_id)
    return root


@pytest.fixture
def scored(scored_template: Path, tmp_path: Path) -> Iterator[Scored]:
    for name in ("village", "township", "district"):
        shutil.copytree(scored_template / name, tmp_path / name)
    nodes = Nodes(Store(tmp_path / "village"), Store(tmp_path / "township"),
                  Store(tmp_path / "district"), tmp_path)
    try:
        yield Scored(nodes, (scored_template / "case_id").read_text(), tmp_path)
    finally:
        nodes.close()


def head(store: Store, entity: str, record: str, name: str) -> str:
    """The change id of the current value of one field."""
    return changelog.heads_of(store.conn, entity, record, name)[0].change_id


def signed_by(store: Store, path: Path, entity: str, record: str, unit: str,
              fields: dict[str, Any], replaces: dict[str, list[str]] | None = None,
              receiver: str = TOWNSHIP[0]) -> Path:
    """A bundle signed by `store`'s own key holding one change set, as a fresh write."""
    with store.transaction():
        hlc = store.tick()
    line = {"entity": entity, "record": record, "hlc": hlc, "device": store.node.device_id,
            "unit": unit, "fields": fields}
    if replaces:
        line["replaces"] = replaces
    return forge(store, path, change_line(**line), receiver=receiver, seq=9)


def refused_for(store: Store, bundle: Path, reason: str, record: str) -> None:
    """The real CLI refuses `bundle` (exit 1, `reason`, the record named), changes
    nothing, and this node's reports still print afterwards."""
    before = state(store)
    result = run_cli(store.home, "merge", str(bundle), "--json")
    assert result.code == 1, result
    assert "Traceback" not in result.err
    [found] = result.json()["bundles"]
    assert (found["status"], found["reason"]) == ("rejected", reason), found
    assert record in found["message"], found
    assert state(store) == before
    for kind in ("case", "rank"):
        out = store.home / f"report-{kind}.xlsx"
        report = run_cli(store.home, "report", "--kind", kind, "--out", str(out))
        assert report.code == 0, report


@pytest.mark.parametrize("shape", ["replacing the scored status", "replacing nothing",
                                   "citing an old status too", "created again"])
def test_a_village_cannot_set_its_scored_case_back_to_draft(scored: Scored,
                                                            shape: str) -> None:
    village, case_id = scored.nodes.village, scored.case_id
    status = head(village, "case", case_id, "status")
    first = changelog.iter_changes(village.conn)
    old = next(c.change_id for _, c in first if c.record_id == case_id and c.field == "status")
    fields: dict[str, Any] = {"status": "draft"}
    replaces = {"replacing the scored status": {"status": [status]},
                "replacing nothing": None,
                "citing an old status too": {"status": sorted([status, old])},
                "created again": None}[shape]
    if shape == "created again":
        fields.update(CASE, unit_code=VILLAGE[0])
    bundle = signed_by(village, scored.root / "draft.vbundle", "case", case_id, VILLAGE[0],
                       fields, replaces)
    reason = "forbidden_change" if shape == "created again" else "bad_status"
    refused_for(scored.nodes.township, bundle, reason, case_id)


def test_a_village_cannot_rewrite_its_case_after_scoring(scored: Scored) -> None:
    village, case_id = scored.nodes.village, scored.case_id
    bundle = signed_by(village, scored.root / "title.vbundle", "case", case_id, VILLAGE[0],
                       {"title": "评分后改写的标题"},
                       {"title": [head(village, "case", case_id, "title")]})
    refused_for(scored.nodes.township, bundle, "forbidden_change", case_id)
    text = run_cli(scored.nodes.township.home, "merge", str(bundle), lang="zh")
    assert "内容不能再修改" in text.err and case_id in text.err


@pytest.mark.parametrize("which", ["status", "unit_code"])
def test_a_village_cannot_slip_an_edit_into_one_of_its_old_writes(scored: Scored,
                                                                  which: str) -> None:
    """A held change set that comes back with more fields (the submission, or the
    case's first write) is judged whole: new content for a scored case is refused."""
    village, case_id = scored.nodes.village, scored.case_id
    row = village.conn.execute(
        "SELECT hlc, fields, replaces FROM change_set WHERE entity = 'case' AND record_id = ? "
        "AND device_id = ? AND fields LIKE ? ORDER BY hlc LIMIT 1",
        (case_id, village.node.device_id, f'%"{which}"%')).fetchone()
    fields = {**json.loads(row[1]), "contact": "13900000000"}
    line = {"entity": "case", "record": case_id, "hlc": row[0],
            "device": village.node.device_id, "unit": VILLAGE[0], "fields": fields,
            "replaces": json.loads(row[2])}
    bundle = forge(village, scored.root / "slip.vbundle", change_line(**line), seq=9)
    refused_for(scored.nodes.township, bundle, "forbidden_change", case_id)


@pytest.mark.parametrize("fields", [
    {"parent_code": "320117200000"},   # another township: it would leave the ranking
    {"kind": "district"},              # and escape the Sloth award
])
def test_a_village_cannot_move_its_own_unit(scored: Scored, fields: dict[str, str]) -> None:
    village = scored.nodes.village
    [name] = fields
    replaces = {name: [head(village, "unit", VILLAGE[0], name)]} if name == "parent_code" \
        else None
    bundle = signed_by(village, scored.root / "move.vbundle", "unit", VILLAGE[0], VILLAGE[0],
                       fields, replaces)
    refused_for(scored.nodes.township, bundle, "forbidden_change", VILLAGE[0])


def _new_case(**fields: Any) -> dict[str, Any]:
    values = {**CASE, "unit_code": VILLAGE[0], "status": "draft", **fields}
    return {k: v for k, v in values.items() if v is not None}


@pytest.mark.parametrize("fields", [
    _new_case(start_date="not-a-date"),
    _new_case(start_date="2026-13-45"),
    _new_case(start_date="2026/3/1"),          # a date, but not as the app stores it
    _new_case(direction="teleportation"),      # no such choice
    _new_case(lead_person=None),               # a required field missing at creation
    _new_case(title=""),                       # ... or empty
], ids=["not-a-date", "2026-13-45", "slashes", "unknown-choice", "missing", "empty"])
def test_a_village_cannot_store_values_no_form_could_write(scored: Scored,
                                                           fields: dict[str, Any]) -> None:
    bundle = signed_by(scored.nodes.village, scored.root / "bad.vbundle", "case", NEW_CASE,
                       VILLAGE[0], fields)
    refused_for(scored.nodes.township, bundle, "invalid_value", NEW_CASE)


def test_a_bad_date_on_a_held_case_is_refused_too(scored: Scored) -> None:
    village, case_id = scored.nodes.village, scored.case_id
    bundle = signed_by(village, scored.root / "date.vbundle", "case", case_id, VILLAGE[0],
                       {"start_date": "2026-13-45"},
                       {"start_date": [head(village, "case", case_id, "start_date")]})
    refused_for(scored.nodes.township, bundle, "invalid_value", case_id)


@pytest.mark.parametrize("score", [1000, 10**30, -1])
def test_the_district_cannot_score_outside_0_to_100(scored: Scored, score: int) -> None:
    fields = {"case_id": scored.case_id, "expert": "王专家", "score": score,
              "date": "2026-11-20"}
    bundle = signed_by(scored.nodes.district, scored.root / "score.vbundle", "score", SCORE_ID,
                       VILLAGE[0], fields)
    refused_for(scored.nodes.township, bundle, "invalid_value", SCORE_ID)


def test_a_refusal_says_what_and_why_in_chinese(scored: Scored) -> None:
    bundle = signed_by(scored.nodes.village, scored.root / "zh.vbundle", "case", NEW_CASE,
                       VILLAGE[0], _new_case(start_date="2026-13-45"))
    result = run_cli(scored.nodes.township.home, "merge", str(bundle), lang="zh")
    assert result.code == 1
    line = result.err.strip().splitlines()[0]
    assert NEW_CASE in line and "开始时间" in line and "不是有效日期" in line, line


# --- honest histories still merge, in any order ------------------------------------------

def _merged(store: Store, bundle: Path) -> None:
    result = merge_file(store, bundle)
    assert result.status in ("merged", "already"), result.error


def test_a_withdrawal_racing_an_approval_merges_everywhere(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        cases.submit_case(n.village, case_id)
        _merged(n.township, send(n.village, tmp_path / "a"))
        # Offline, at the same time: the village takes its case back and edits it,
        # while the township approves the submission it holds.
        cases.move_case(n.village, case_id, "draft")
        cases.update_case(n.village, case_id, {"title": "撤回后修改"})
        cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "同意", "李镇长")
        up, down = send(n.village, tmp_path / "b"), send(n.township, tmp_path / "c",
                                                          VILLAGE[0])
        _merged(n.township, up)
        _merged(n.village, down)
        _merged(n.district, send(n.township, tmp_path / "d"))
        # A true conflict for a person, the same at every node; nothing refused.
        listed = {run_cli(s.home, "conflicts", "--json").out for s in (n.village, n.township)}
        assert len(listed) == 1 and "status" in listed.pop()


def test_an_edit_after_a_return_merges_everywhere_and_late_copies_too(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        cases.submit_case(n.village, case_id)
        first = send(n.village, tmp_path / "a")
        _merged(n.township, first)
        cases.review_case(n.township, case_id, ReviewDecision.RETURN, "补充成效", "李镇长")
        _merged(n.village, send(n.township, tmp_path / "b", VILLAGE[0]))
        cases.update_case(n.village, case_id, {"results": "受益群众三百户"})
        cases.submit_case(n.village, case_id)
        _merged(n.township, send(n.village, tmp_path / "c"))
        cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "同意", "李镇长")
        _merged(n.district, send(n.township, tmp_path / "d"))
        evaluation.score_case(n.district, case_id, "张教授", 90)
        _merged(n.township, send(n.district, tmp_path / "e", TOWNSHIP[0]))
        _merged(n.village, send(n.township, tmp_path / "f", VILLAGE[0]))
        _merged(n.township, first)  # a stale copy from the stick, after everything
        assert merge_file(n.township, send(n.village, tmp_path / "g", full=True)).error is None
        assert {cases.get_case(s, case_id)["status"] for s in
                (n.village, n.township, n.district)} == {"scored"}


def test_demo_records_made_for_other_units_stay_on_the_node(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        generate(n.township, cases=10, problems=5, seed=3)
        result = merge_file(n.district, send(n.township, tmp_path / "up"))
        assert result.status == "merged", result.error
        assert n.district.conn.execute("SELECT count(*) FROM innovation_case").fetchone() == (0,)


def test_a_title_conflict_on_an_approved_case_is_not_settled_by_editing_it(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        laptop = make_node(tmp_path / "laptop2", Role.VILLAGE, VILLAGE)
        introduce(n.township, laptop)
        introduce(laptop, n.township)
        introduce(n.village, laptop)  # the two laptops of 白马村 hand each other over
        introduce(laptop, n.village)
        try:
            case_id = cases.create_case(n.village, CASE)
            _merged(n.township, send(n.village, tmp_path / "a"))
            _merged(laptop, send(n.township, tmp_path / "b", VILLAGE[0]))
            # Both laptops retitle the draft offline; then one submits it and the
            # township approves it before the two titles ever meet.
            cases.update_case(n.village, case_id, {"title": "甲稿"})
            cases.update_case(laptop, case_id, {"title": "乙稿"})
            cases.submit_case(n.village, case_id)
            _merged(n.township, send(n.village, tmp_path / "c"))
            _merged(n.township, send(laptop, tmp_path / "d"))
            cases.review_case(n.township, case_id, ReviewDecision.APPROVE, "同意", "李镇长")
            _merged(n.village, send(n.township, tmp_path / "e", VILLAGE[0]))
        finally:
            laptop.close()
        [conflict] = run_cli(n.village.home, "conflicts", "--json").json()
        keep = conflict["values"][-1]["value_id"]
        result = run_cli(n.village.home, "conflicts", "resolve", conflict["id"], "--keep", keep)
        assert result.code == 1 and "can no longer be edited" in result.err, result
