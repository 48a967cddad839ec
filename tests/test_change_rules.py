"""The domain's change rules on small histories of one case's status: what an honest
writer does passes in any order, what it never does is refused."""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest

from villagebook.domain.change_rules import RuleBroken, UnitPlace, judge
from villagebook.domain.enums import Role
from villagebook.domain.fields import CASE, UNIT
from villagebook.store.changelog import ChangeSet

UNIT_CODE = "320117100201"
VILLAGE_DEVICE, OTHER_LAPTOP, TOWN_DEVICE = "v1", "v2", "t1"


def written(hlc: int, device: str, fields: dict[str, Any],
            replaces: dict[str, list[ChangeSet]] | None = None) -> ChangeSet:
    """A change set at `hlc`; `replaces` names the sets whose field it replaces."""
    return ChangeSet(f"{hlc:016x}-{device}", "case", "0199aaaa-0000-7000-8000-000000000001",
                     hlc, device, UNIT_CODE, fields,
                     {name: [f"{s.set_id}-{name}" for s in sets]
                      for name, sets in (replaces or {}).items()})


CREATED = written(1, VILLAGE_DEVICE, {"unit_code": UNIT_CODE, "title": "网格员走村入户",
                                      "lead_person": "王芳", "direction": "process",
                                      "status": "draft"})
SUBMITTED = written(2, VILLAGE_DEVICE, {"status": "submitted"}, {"status": [CREATED]})
APPROVED = written(3, TOWN_DEVICE, {"status": "approved"}, {"status": [SUBMITTED]})
WITHDRAWN = written(4, VILLAGE_DEVICE, {"status": "draft"}, {"status": [SUBMITTED]})
RETURNED = written(3, TOWN_DEVICE, {"status": "returned"}, {"status": [SUBMITTED]})
ROLES = {VILLAGE_DEVICE: Role.VILLAGE, OTHER_LAPTOP: Role.VILLAGE, TOWN_DEVICE: Role.TOWNSHIP,
         "d1": Role.DISTRICT}


def _in_order(order: tuple[ChangeSet, ...]) -> bool:
    """Whether every set comes after what it replaces and after its own device's
    earlier sets: the order in which bundles can bring them."""
    for index, change in enumerate(order):
        later = order[index + 1:]
        replaced = {cid for ids in change.replaces.values() for cid in ids}
        if any(s.device_id == change.device_id and s.hlc < change.hlc for s in later) or \
                any(cid.startswith(s.set_id) for s in later for cid in replaced):
            return False
    return True


def passes(history: list[ChangeSet]) -> None:
    """Every set passes, judged against what arrived before it, in every order bundles
    can bring them, and against everything."""
    for order in filter(_in_order, permutations(history)):
        for index, change in enumerate(order):
            judge(CASE, change, ROLES[change.device_id], order[:index])
            judge(CASE, change, ROLES[change.device_id], order)


def refused(change: ChangeSet, history: list[ChangeSet], reason: str) -> None:
    with pytest.raises(RuleBroken) as caught:
        judge(CASE, change, ROLES[change.device_id], history)
    assert caught.value.reason == reason


def test_a_withdrawal_racing_an_approval_and_its_settlement_pass_in_any_order() -> None:
    edit = written(5, VILLAGE_DEVICE, {"title": "撤回后修改"}, {"title": [CREATED]})
    settled = written(6, TOWN_DEVICE, {"status": "approved"},
                      {"status": [APPROVED, WITHDRAWN]})
    passes([CREATED, SUBMITTED, APPROVED, WITHDRAWN, edit, settled])


def test_an_edit_after_a_return_passes_and_one_while_submitted_does_not() -> None:
    after_return = written(4, VILLAGE_DEVICE, {"results": "受益三百户"})
    passes([CREATED, SUBMITTED, RETURNED])
    judge(CASE, after_return, Role.VILLAGE, [CREATED, SUBMITTED, RETURNED])
    # The return must be held with the edit or before it (the township's own change
    # travels in the root of the very bundle that relays the edit, or earlier).
    refused(after_return, [CREATED, SUBMITTED], "forbidden_change")
    scored = written(4, "d1", {"status": "scored"}, {"status": [APPROVED]})
    refused(after_return, [CREATED, SUBMITTED, APPROVED, scored], "forbidden_change")


def test_a_status_is_judged_from_the_winner_of_what_it_replaces() -> None:
    back = written(5, VILLAGE_DEVICE, {"status": "draft"}, {"status": [APPROVED]})
    refused(back, [CREATED, SUBMITTED, APPROVED], "bad_status")
    # Until what it replaces arrives, it cannot be judged here: it is judged where it is.
    judge(CASE, back, Role.VILLAGE, [CREATED])
    skipped = written(5, TOWN_DEVICE, {"status": "approved"}, {"status": [CREATED]})
    refused(skipped, [CREATED], "bad_status")


def test_a_stale_status_cited_beside_the_current_one_is_refused() -> None:
    stale = written(5, VILLAGE_DEVICE, {"status": "draft"},
                    {"status": [APPROVED, CREATED]})
    refused(stale, [CREATED, SUBMITTED, APPROVED], "bad_status")


def test_fixed_fields_keep_their_value() -> None:
    moved = written(5, VILLAGE_DEVICE, {"origin_case_id": "0199aaaa-0000-7000-8000-00000000beef"})
    origin = written(4, VILLAGE_DEVICE, {"origin_case_id": "0199aaaa-0000-7000-8000-0000000000aa"})
    refused(moved, [CREATED, origin], "forbidden_change")
    again = written(5, VILLAGE_DEVICE, {**CREATED.fields, "title": "重建"})
    refused(again, [CREATED], "forbidden_change")
    # Another laptop of the unit making the same record concurrently: a conflict, shown.
    judge(CASE, written(5, OTHER_LAPTOP, dict(CREATED.fields)), Role.VILLAGE, [CREATED])


def test_a_unit_stays_where_its_key_was_trusted() -> None:
    unit = ChangeSet("0000000000000001-v1", "unit", UNIT_CODE, 1, VILLAGE_DEVICE, UNIT_CODE,
                     {"code": UNIT_CODE, "name": "白马村", "kind": "village",
                      "parent_code": "320117100000"}, {})
    place = UnitPlace("320117100000", "village")
    judge(UNIT, unit, Role.VILLAGE, [], place)
    for fields in ({"parent_code": "320117200000"}, {"kind": "district"},
                   {"parent_code": None}):
        elsewhere = ChangeSet(unit.set_id, "unit", UNIT_CODE, 1, VILLAGE_DEVICE, UNIT_CODE,
                              {**unit.fields, **fields}, {})
        with pytest.raises(RuleBroken):
            judge(UNIT, elsewhere, Role.VILLAGE, [], place)
