"""Township review and district evaluation, told as stories on real SQLite homes.

Records of other units are put in place the way demo data is (written by this
node's device), or carried over as change records, exactly as a bundle would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from villagebook.domain.enums import ReviewDecision, Role
from villagebook.domain.validation import ValidationError
from villagebook.services import cases, evaluation, oversight, records
from villagebook.services.errors import Refused
from villagebook.services.ranking import rank, ranking_json
from villagebook.store import changelog
from villagebook.store.node import Store
from villagebook.sync.identity import set_up_node

DISTRICT = ("320117000000", "溧水区", None)
TOWN = "320117100000"
OTHER_TOWN = "320117200000"
V1, V2, V3 = "320117100201", "320117100202", "320117100203"
S1, S2 = "320117100301", "320117100302"
FOREIGN = "320117200201"


class Clock:
    """A wall clock the story moves by hand (milliseconds since the epoch)."""

    def __init__(self, day: str) -> None:
        self.set(day)

    def set(self, day: str) -> None:
        moment = dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=dt.timezone.utc)
        self.ms = int(moment.timestamp() * 1000)

    def __call__(self) -> int:
        return self.ms


def _node(home: Path, role: Role, unit: tuple[str, str, str | None],
          clock: Callable[[], int]) -> Store:
    store = Store(home, wall_ms=clock)
    set_up_node(store, role, *unit)
    return store


def _units(store: Store) -> None:
    """白马镇 with three villages and two sections, and a village of another township."""
    items = [
        (TOWN, "白马镇", "township", DISTRICT[0]),
        (OTHER_TOWN, "晶桥镇", "township", DISTRICT[0]),
        (V1, "白马村", "village", TOWN), (V2, "石头寨村", "village", TOWN),
        (V3, "曹家桥村", "village", TOWN), (S1, "农业服务中心", "section", TOWN),
        (S2, "综合执法局", "section", TOWN), (FOREIGN, "芝山村", "village", OTHER_TOWN),
    ]
    known = {row[0] for row in store.conn.execute("SELECT code FROM unit")}
    records.bulk_create(store, "unit", [
        (code, code, {"code": code, "name": name, "kind": kind, "parent_code": parent})
        for code, name, kind, parent in items if code not in known])


def _case(store: Store, unit: str, status: str, title: str = "积分制管理",
          **more: str) -> str:
    case_id = records.new_id(store)
    records.bulk_create(store, "case", [(case_id, unit, {
        "unit_code": unit, "title": title, "lead_person": "王强",
        "direction": "breakthrough", "status": status, **more})])
    return case_id


def _approval(store: Store, case_id: str, unit: str, day: str) -> None:
    records.bulk_create(store, "review", [(records.new_id(store), unit, {
        "case_id": case_id, "decision": "approve", "reviewer": "白马镇", "date": day})])


@pytest.fixture
def clock() -> Clock:
    return Clock("2026-03-01")


@pytest.fixture
def district(tmp_path: Path, clock: Clock) -> Store:
    store = _node(tmp_path / "district", Role.DISTRICT, DISTRICT, clock)
    _units(store)
    return store


@pytest.fixture
def town(tmp_path: Path, clock: Clock) -> Store:
    store = _node(tmp_path / "town", Role.TOWNSHIP, (TOWN, "白马镇", DISTRICT[0]), clock)
    _units(store)
    return store


# --- township review ---------------------------------------------------------------------

def test_township_reviews_its_queue_oldest_first(town: Store, clock: Clock) -> None:
    first = _case(town, V1, "submitted", "第一件")
    clock.set("2026-03-02")
    second = _case(town, V2, "submitted", "第二件")
    _case(town, V3, "draft", "草稿不排队")
    _case(town, FOREIGN, "submitted", "别的镇")
    queue = oversight.review_queue(town)
    assert [q.case_id for q in queue] == [first, second]
    assert queue[0].unit_name == "白马村"

    cases.review_case(town, first, ReviewDecision.RETURN, "请补充群众满意度数据", "张科长")
    assert [q.case_id for q in oversight.review_queue(town)] == [second]
    assert cases.get_case(town, first)["status"] == "returned"
    assert cases.reviews_of(town, first)[0]["comment"] == "请补充群众满意度数据"


def test_a_case_is_decided_once(town: Store) -> None:
    case_id = _case(town, V1, "submitted")
    oversight.decide(town, case_id, ReviewDecision.APPROVE, " ", " 张科长 ")
    before = town.conn.execute("SELECT count(*) FROM change_set").fetchone()
    with pytest.raises(Refused, match="submitted"):
        oversight.decide(town, case_id, ReviewDecision.APPROVE, "", "张科长")
    assert town.conn.execute("SELECT count(*) FROM change_set").fetchone() == before
    assert [r["reviewer"] for r in cases.reviews_of(town, case_id)] == ["张科长"]


def test_a_return_needs_a_comment_and_changes_nothing_without_one(town: Store) -> None:
    case_id = _case(town, V1, "submitted")
    before = town.conn.execute("SELECT count(*) FROM change_set").fetchone()
    with pytest.raises(Refused, match="comment"):
        cases.review_case(town, case_id, ReviewDecision.RETURN, "  ", "张科长")
    assert town.conn.execute("SELECT count(*) FROM change_set").fetchone() == before
    assert oversight.review_queue(town)[0].case_id == case_id


def test_township_ledger_overview_puts_overdue_first_and_filters_by_unit(
    town: Store, clock: Clock,
) -> None:
    records.bulk_create(town, "problem", [
        (records.new_id(town), unit, {
            "unit_code": unit, "title": title, "category": "urgent", "source": "visit",
            "reported_date": "2026-01-05", "urgency": "high", "deadline": deadline,
            "status": status})
        for unit, title, deadline, status in (
            (V1, "路灯不亮", "2026-12-01", "open"),
            (V2, "污水外溢", "2026-02-01", "studying"),
            (V1, "停车难", "2026-02-10", "resolved"),
            (FOREIGN, "别镇的问题", "2026-01-01", "open"),
        )])
    rows = oversight.ledger_overview(town)
    assert [(r.title, r.overdue) for r in rows] == [
        ("污水外溢", True), ("停车难", False), ("路灯不亮", False)]
    assert [r.title for r in oversight.ledger_overview(town, V1)] == ["停车难", "路灯不亮"]
    summary = {u["unit_code"]: u for u in oversight.ledger_units(town)}
    assert summary[V2]["overdue"] == 1 and summary[V1]["open"] == 1
    assert oversight.ledger_units(town)[0]["unit_code"] == V2


# --- expert scores -----------------------------------------------------------------------

def test_experts_score_an_approved_case_and_its_score_is_their_mean(district: Store) -> None:
    case_id = _case(district, V1, "approved")
    evaluation.score_case(district, case_id, "王教授", 90, "思路清晰")
    assert cases.get_case(district, case_id)["status"] == "scored"
    evaluation.score_case(district, case_id, "李研究员", "70")
    evaluation.score_case(district, case_id, "李研究员", 74, "复核后上调")
    evaluation.score_case(district, case_id, "王教授", 90)  # a correction keeps the comment
    summary = evaluation.case_score(district, case_id)
    assert summary is not None
    assert (summary.mean, summary.low, summary.high, summary.experts) == (82, 74, 90, 2)
    assert summary.spread == 16
    scores = evaluation.scores_of(district, case_id)
    assert [(s["expert"], s["score"], s["comment"], s["date"]) for s in scores] == [
        ("李研究员", 74, "复核后上调", "2026-03-01"), ("王教授", 90, "思路清晰", "2026-03-01")]


@pytest.mark.parametrize("value", [101, -1, "八十", ""])
def test_a_bad_score_is_refused_and_nothing_changes(district: Store, value: object) -> None:
    case_id = _case(district, V1, "approved")
    with pytest.raises((Refused, ValidationError)):
        evaluation.score_case(district, case_id, "王教授", value)
    assert cases.get_case(district, case_id)["status"] == "approved"
    assert evaluation.scores_of(district, case_id) == []


def test_only_approved_cases_are_scored_and_only_by_the_district(
    district: Store, town: Store,
) -> None:
    draft = _case(district, V1, "submitted")
    with pytest.raises(Refused, match="approved"):
        evaluation.score_case(district, draft, "王教授", 80)
    approved = _case(town, V1, "approved")
    with pytest.raises(Refused, match="district"):
        evaluation.score_case(town, approved, "王教授", 80)


# --- rubric ------------------------------------------------------------------------------

def test_the_district_sets_the_rubric_of_a_period(district: Store, town: Store) -> None:
    period = evaluation.period_of("2026")
    assert evaluation.rubric_for(district, period) == (evaluation.DEFAULT_RUBRIC, False)
    evaluation.set_rubric(district, "2026", {"weight_expert": "50", "top_n": 2})
    evaluation.set_rubric(district, "2026年", {"bottom_n": 1})
    rubric, set_here = evaluation.rubric_for(district, period)
    assert set_here and rubric["weight_expert"] == 50 and rubric["top_n"] == 2
    assert rubric["bottom_n"] == 1 and rubric["weight_resolved"] == 20
    assert district.conn.execute("SELECT count(*) FROM rubric").fetchone()[0] == 1
    with pytest.raises(Refused, match="weight_expret"):
        evaluation.set_rubric(district, "2026", {"weight_expret": 5})
    with pytest.raises(ValidationError):
        evaluation.set_rubric(district, "2026", {"top_n": 500})
    with pytest.raises(Refused, match="period"):
        evaluation.set_rubric(district, "明年", {"top_n": 1})
    with pytest.raises(Refused, match="district"):
        evaluation.set_rubric(town, "2026", {"top_n": 1})
    assert evaluation.rubric_for(district, period)[0]["top_n"] == 2


# --- ranking -----------------------------------------------------------------------------

def _arena(district: Store, clock: Clock) -> None:
    """A half year of work in 白马镇, with figures chosen to be checked by hand."""
    evaluation.set_rubric(district, "2026", {"top_n": 1, "bottom_n": 1})
    a, b = _case(district, V1, "approved", "甲"), _case(district, V1, "approved", "乙")
    c, d = _case(district, V2, "approved", "丙"), _case(district, S1, "approved", "丁")
    for case_id, unit in ((a, V1), (b, V1), (d, S1)):
        _approval(district, case_id, unit, "2026-02-20")
    _approval(district, c, V2, "2025-12-20")  # approved last year: not this period's
    clock.set("2026-03-10")
    for case_id, expert, score in ((a, "王教授", 90), (a, "李研究员", 70), (c, "王教授", 60),
                                   (d, "李研究员", 50)):
        evaluation.score_case(district, case_id, expert, score)
    problem = {"category": "urgent", "source": "visit", "reported_date": "2026-01-05",
               "urgency": "high", "unit_code": V1}
    on_time, late, open_, later = (records.new_id(district) for _ in range(4))
    records.bulk_create(district, "problem", [
        (on_time, V1, {**problem, "title": "按期", "deadline": "2026-05-01",
                       "status": "resolving"}),
        (late, V1, {**problem, "title": "逾期解决", "deadline": "2026-03-01",
                    "status": "resolving"}),
        (open_, V1, {**problem, "title": "超期", "deadline": "2026-04-15", "status": "open"}),
        (later, V1, {**problem, "title": "未到期", "deadline": "2026-09-01", "status": "open"}),
    ])
    clock.set("2026-04-01")
    for problem_id in (on_time, late):
        records.update_record(district, "problem", problem_id,
                              {"status": "resolved", "resolution": "已修复"}, owner=V1)


def test_ranking_adds_up_line_by_line_and_names_cheetah_and_sloth(
    district: Store, clock: Clock,
) -> None:
    _arena(district, clock)
    ranking = rank(district, "2026", today=dt.date(2026, 6, 1))
    villages = ranking.groups["village"]
    assert [(u.code, u.rank, u.total, u.award) for u in villages] == [
        (V1, 1, 66.0, "cheetah"), (V2, 2, 36.0, None), (V3, 3, 0.0, "sloth"),
        (FOREIGN, 3, 0.0, "sloth")]
    v1 = villages[0]
    # 60 × 80/100 + 20 × 2/3 + 20 × 1/3 due in time − 2 × 1 overdue
    assert [round(line.points, 2) for line in v1.lines] == [48.0, 13.33, 6.67, -2.0]
    resolved = v1.lines[2].facts
    assert (resolved["due"], resolved["in_time"], resolved["late"]) == (3, 1, 1)
    sections = ranking.groups["section"]
    assert [(u.code, u.total, u.award) for u in sections] == [
        (S1, 36.67, "cheetah"), (S2, 0.0, "sloth")]
    document = ranking.as_json()
    assert document["cheetah"] == [V1, S1] and document["sloth"] == [V3, FOREIGN, S2]
    assert document["rubric"]["source"] == "district" and document["as_of"] == "2026-06-01"


def test_ranks_are_reproduced_from_the_change_records_alone(
    district: Store, clock: Clock, tmp_path: Path,
) -> None:
    _arena(district, clock)
    expected = ranking_json(rank(district, "2026-H1", today=dt.date(2026, 8, 1)))
    copy = _node(tmp_path / "copy", Role.DISTRICT, DISTRICT, Clock("2030-01-01"))
    with copy.transaction() as conn:
        changelog.apply(conn, [change for _seq, change in changelog.iter_changes(district.conn)])
    assert ranking_json(rank(copy, "2026-H1", today=dt.date(2026, 8, 1))) == expected
    with district.transaction() as conn:
        changelog.rebuild(conn)
    assert ranking_json(rank(district, "2026-H1", today=dt.date(2026, 8, 1))) == expected


def test_equal_scores_share_a_rank_and_nobody_wins_a_cheetah_with_nothing(
    district: Store,
) -> None:
    ranking = rank(district, "2026", today=dt.date(2026, 6, 1))
    villages = ranking.groups["village"]
    assert {u.rank for u in villages} == {1}
    assert {u.award for u in villages} == {"sloth"}
    assert FOREIGN in {u.code for u in villages}


# --- model cases and adoption ------------------------------------------------------------

def _carry_down(district: Store, village: Store) -> None:
    """What the township's next bundle carries down to another village: the model marks."""
    with village.transaction() as conn:
        changelog.apply(conn, [c for _s, c in changelog.iter_changes(district.conn)
                               if c.entity == "model_case"])


def test_district_marks_a_model_and_another_village_adopts_it(
    district: Store, clock: Clock, tmp_path: Path,
) -> None:
    model = _case(district, V1, "approved", "一件事一次办", measures="一窗受理",
                  results="办事时间由5天缩短到1天")
    evaluation.score_case(district, model, "王教授", 95)
    with pytest.raises(Refused, match="not a model"):
        evaluation.withdraw_model(district, model)
    evaluation.mark_model(district, model, "区改革办", "流程再造成效显著")
    evaluation.mark_model(district, model, "区改革办", "流程再造成效显著")
    assert [m["id"] for m in evaluation.model_cases(district)] == [model]

    village = _node(tmp_path / "v2", Role.VILLAGE, (V2, "石头寨村", TOWN), clock)
    _carry_down(district, village)
    assert records.get_record(village, "case", model) is None, "another unit's case stays away"
    adopted = evaluation.adopt_case(village, model, "陈书记")
    case = cases.get_case(village, adopted)
    assert case["origin_case_id"] == model and case["unit_code"] == V2
    assert case["status"] == "draft" and case["title"] == "一件事一次办"
    assert case["measures"] == "一窗受理" and case["results"] is None
    listed = evaluation.model_cases(village)[0]
    assert (listed["unit_name"], listed["title"]) == ("白马村", "一件事一次办")
    assert evaluation.adoptions_of(village, model)[0]["id"] == adopted
    assert evaluation.model_cases(village)[0]["adoptions"] == 1

    evaluation.withdraw_model(district, model)
    assert evaluation.model_cases(district) == []
    _carry_down(district, village)
    with pytest.raises(Refused, match="not a model"):
        evaluation.adopt_case(village, model, "陈书记")
    with pytest.raises(Refused, match="village or section"):
        evaluation.adopt_case(district, model, "陈书记")


def test_a_unit_cannot_adopt_its_own_model(district: Store, clock: Clock,
                                           tmp_path: Path) -> None:
    model = _case(district, V1, "approved")
    evaluation.mark_model(district, model, "区改革办")
    village = _node(tmp_path / "v1", Role.VILLAGE, (V1, "白马村", TOWN), clock)
    with village.transaction() as conn:
        changelog.apply(conn, [c for _s, c in changelog.iter_changes(district.conn)])
    with pytest.raises(Refused, match="own"):
        evaluation.adopt_case(village, model, "陈书记")


# --- periods and reports -----------------------------------------------------------------

@pytest.mark.parametrize(("spelling", "code", "start", "end"), [
    ("2026", "2026", "2026-01-01", "2026-12-31"),
    ("2026年", "2026", "2026-01-01", "2026-12-31"),
    ("2026-h2", "2026-H2", "2026-07-01", "2026-12-31"),
    ("2026上半年", "2026-H1", "2026-01-01", "2026-06-30"),
    ("2026-Q1", "2026-Q1", "2026-01-01", "2026-03-31"),
    ("2026年第四季度", "2026-Q4", "2026-10-01", "2026-12-31"),
    ("2024-02", "2024-02", "2024-02-01", "2024-02-29"),
    ("2026年12月", "2026-12", "2026-12-01", "2026-12-31"),
])
def test_periods_are_read_as_people_write_them(spelling: str, code: str, start: str,
                                               end: str) -> None:
    period = evaluation.period_of(spelling)
    assert (period.code, period.start.isoformat(), period.end.isoformat()) == (code, start, end)


@pytest.mark.parametrize("spelling", ["明年", "2026-13", "2026-Q5", "26", ""])
def test_a_period_nobody_can_read_is_refused(spelling: str) -> None:
    with pytest.raises(Refused, match="period"):
        evaluation.period_of(spelling)


def test_a_report_replaces_the_old_file_whole_or_not_at_all(district: Store,
                                                           tmp_path: Path) -> None:
    from villagebook.services.reports import display_width, write_report

    out = tmp_path / "out" / "rank.csv"
    out.parent.mkdir()
    out.write_text("last week's report", encoding="utf-8")
    with pytest.raises(Refused, match="period"):
        write_report(district, "rank", out, "明年")
    assert out.read_text(encoding="utf-8") == "last week's report"
    assert write_report(district, "rank", out, "2026") == 6
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [p.name for p in out.parent.iterdir()] == ["rank.csv"]
    assert display_width("白马村 A1") == 9
