"""示范推广: a model case the district holds up reaches every unit under it, so that
another village can adopt it, and the adoption, linked to the model, travels back up."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import DISTRICT, TOWNSHIP, VILLAGE, make_node, run_cli
from tests.sync_helpers import CASE, VILLAGE2, introduce, send, three_nodes
from villagebook.domain.enums import ReviewDecision, Role
from villagebook.services import cases, evaluation
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file

TOWNSHIP2 = ("320117200000", "东屏街道", DISTRICT[0])
VILLAGE3 = ("320117200201", "群力村", TOWNSHIP2[0])


def _merged(store: Store, bundle: Path) -> None:
    result = merge_file(store, bundle)
    assert result.status == "merged", result.error


def _under(parent: Store, root: Path, role: Role, unit: tuple[str, str, str]) -> Store:
    """A new node under `parent`, keys exchanged both ways."""
    store = make_node(root / unit[0], role, unit)
    introduce(parent, store)
    introduce(store, parent)
    return store


def _model_from_baima(village: Store, township: Store, district: Store, root: Path) -> str:
    """白马村's case is approved, reaches the district, and is marked as a model."""
    case_id = cases.create_case(village, {**CASE, "measures": "每周两次走访",
                                          "results": "民意收集率翻倍"})
    cases.submit_case(village, case_id)
    _merged(township, send(village, root / "v-up"))
    cases.review_case(township, case_id, ReviewDecision.APPROVE, "做法可推广", "李镇长")
    _merged(district, send(township, root / "t-up"))
    evaluation.mark_model(district, case_id, "区创新办", "走访机制值得推广")
    return case_id


def test_a_model_case_reaches_every_village_and_another_village_adopts_it(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        shitou = _under(n.township, tmp_path, Role.VILLAGE, VILLAGE2)
        dongping = _under(n.district, tmp_path, Role.TOWNSHIP, TOWNSHIP2)
        qunli = _under(dongping, tmp_path, Role.VILLAGE, VILLAGE3)
        try:
            case_id = _model_from_baima(n.village, n.township, n.district, tmp_path)
            # Down through 白马镇 to 石头村, and through 东屏街道 to 群力村.
            _merged(n.township, send(n.district, tmp_path / "d1", TOWNSHIP[0]))
            _merged(shitou, send(n.township, tmp_path / "d2", VILLAGE2[0]))
            _merged(dongping, send(n.district, tmp_path / "d3", TOWNSHIP2[0]))
            _merged(qunli, send(dongping, tmp_path / "d4", VILLAGE3[0]))
            for store in (dongping, qunli):
                [model] = evaluation.model_cases(store)
                assert (model["id"], model["title"]) == (case_id, CASE["title"])
            # 石头村 sees the model with what it needs, but not 白马村's case itself.
            shitou.close()
            listed = run_cli(shitou.home, "model", "list", "--json")
            assert listed.code == 0, listed.err
            [model] = listed.json()
            assert (model["id"], model["unit_code"], model["unit_name"], model["title"]) == (
                case_id, VILLAGE[0], VILLAGE[1], CASE["title"])
            adopted = run_cli(shitou.home, "adopt", case_id, "--lead", "陈书记")
            assert adopted.code == 0, adopted.err
            shitou = Store(shitou.home)
            [own] = run_cli(shitou.home, "dump", "--json").json()["cases"]
            assert (own["unit_code"], own["origin_case_id"]) == (VILLAGE2[0], case_id)
            assert own["measures"] == "每周两次走访" and own["lead_person"] == "陈书记"
            # The adoption travels back up, linked to its model.
            _merged(n.township, send(shitou, tmp_path / "u1"))
            _merged(n.district, send(n.township, tmp_path / "u2"))
            [adoption] = evaluation.adoptions_of(n.district, case_id)
            assert (adoption["id"], adoption["unit_code"]) == (own["id"], VILLAGE2[0])
            assert evaluation.model_cases(n.district)[0]["adoptions"] == 1
        finally:
            for store in (shitou, dongping, qunli):
                store.close()


def test_a_withdrawn_model_is_withdrawn_in_every_village(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        shitou = _under(n.township, tmp_path, Role.VILLAGE, VILLAGE2)
        try:
            case_id = _model_from_baima(n.village, n.township, n.district, tmp_path)
            _merged(n.township, send(n.district, tmp_path / "d1", TOWNSHIP[0]))
            _merged(shitou, send(n.township, tmp_path / "d2", VILLAGE2[0]))
            assert [m["id"] for m in evaluation.model_cases(shitou)] == [case_id]
            evaluation.withdraw_model(n.district, case_id)
            _merged(n.township, send(n.district, tmp_path / "d3", TOWNSHIP[0]))
            _merged(shitou, send(n.township, tmp_path / "d4", VILLAGE2[0]))
            assert evaluation.model_cases(shitou) == []
        finally:
            shitou.close()
