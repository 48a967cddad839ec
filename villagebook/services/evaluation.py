"""District evaluation: expert scores, the rubric, model cases and their adoption.

Expert scores (0–100, with expert, comment and date) are records under the case
they score; one per expert and case, so an expert who scores again corrects
their score instead of counting twice. The rubric is a district-written record
per period that travels down in bundles like any other. A model case (示范推广)
is a district-owned record beside the case, not a field on it: the village keeps
sole authorship of its case, the district of its verdict.

Records that stand for one fact (this expert's score of this case, the rubric
of this period, this case's model mark) get ids every node derives alike, so
two writes of the same fact meet as edits of one record, never as duplicates.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from villagebook.domain.enums import CaseStatus, Role
from villagebook.domain.fields import ENTITIES
from villagebook.domain.periods import BadPeriod, Period, parse_period
from villagebook.domain.validation import validate
from villagebook.i18n import N_
from villagebook.services import records
from villagebook.services.cases import create_case, get_case, move_case
from villagebook.services.errors import Refused
from villagebook.services.setup import unit_name
from villagebook.store.node import Store

_NAMESPACE = uuid.UUID("6b1f4d0e-8f5c-4a7e-9c39-1f0f2a5d7e11")

#: The rubric in force until the district sets one for a period.
DEFAULT_RUBRIC: dict[str, int] = {
    "weight_expert": 60,
    "weight_approved": 20,
    "approved_target": 3,
    "weight_resolved": 20,
    "overdue_penalty": 2,
    "top_n": 3,
    "bottom_n": 3,
}
RUBRIC_SETTINGS = tuple(DEFAULT_RUBRIC)
_SCORABLE = frozenset({CaseStatus.APPROVED.value, CaseStatus.SCORED.value})


def stable_id(*parts: str) -> str:
    """A record id that every node derives alike from the fact it records."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def period_of(text: str) -> Period:
    """Parse a period, or refuse with the spellings we accept."""
    try:
        return parse_period(text)
    except BadPeriod:
        raise Refused("{period} is not a period (use 2026, 2026-H1, 2026-Q3 or 2026-05)",
                      period=text) from None


def _require_district(store: Store, msgid: str) -> None:
    if store.node.role is not Role.DISTRICT:
        raise Refused(msgid)


def _upsert(store: Store, entity_name: str, record_id: str, data: Mapping[str, Any],
            owner: str) -> None:
    """Create the record under `record_id`, or edit it where it exists already."""
    if records.get_record(store, entity_name, record_id) is None:
        parsed = validate(ENTITIES[entity_name], data, creating=True)
        values = {k: v for k, v in parsed.items() if v not in (None, [])}
        records.write_changes(store, entity_name, record_id, owner, values)
    else:
        entity = ENTITIES[entity_name]
        mutable = {k: v for k, v in data.items() if not entity.field(k).immutable}
        records.update_record(store, entity_name, record_id, mutable, owner=owner)


# --- expert scores -----------------------------------------------------------------------

def score_case(store: Store, case_id: str, expert: str, score: object,
               comment: str | None = None, date: object = None) -> str:
    """Record (or correct) one expert's score of an approved case; returns the score's id.

    The first score moves the case from approved to scored, in the same transaction.
    A correction without a comment keeps the expert's earlier comment. `date` is
    when the expert scored (a scoring session on paper is entered later); default today.
    """
    _require_district(store, N_("Only the district node records expert scores"))
    case = get_case(store, case_id)
    if case["status"] not in _SCORABLE:
        raise Refused("Only cases approved by their township can be scored; this one is {status}",
                      status=CaseStatus(case["status"] or "draft"))
    name = expert.strip()
    score_id = stable_id("score", case_id, name.casefold())
    data = {"case_id": case_id, "expert": name, "score": score,
            "date": date or store.today()}
    if comment is not None:
        data["comment"] = comment
    with store.transaction():
        _upsert(store, "score", score_id, data, case["unit_code"])
        if case["status"] == CaseStatus.APPROVED.value:
            move_case(store, case_id, CaseStatus.SCORED.value)
    return score_id


def scores_of(store: Store, case_id: str) -> list[dict[str, Any]]:
    """A case's expert scores, by expert."""
    return records.select_dicts(
        store,
        "SELECT id, expert, score, comment, date FROM score WHERE case_id = ? "
        "ORDER BY expert, id", (case_id,),
    )


@dataclass(frozen=True)
class CaseScore:
    """A case's score: the mean of its experts' scores, with their spread."""

    mean: float
    low: int
    high: int
    experts: int
    stdev: float

    @property
    def spread(self) -> int:
        """Highest minus lowest expert score."""
        return self.high - self.low


def summarise(scores: list[int]) -> CaseScore | None:
    """The mean and spread of some expert scores; None for no scores."""
    if not scores:
        return None
    return CaseScore(mean=round(statistics.fmean(scores), 2), low=min(scores),
                     high=max(scores), experts=len(scores),
                     stdev=round(statistics.pstdev(scores), 2))


def case_score(store: Store, case_id: str, period: Period | None = None) -> CaseScore | None:
    """The case's score (only scores dated in `period`, when given)."""
    marks = [int(s["score"]) for s in scores_of(store, case_id)
             if s["score"] is not None and (period is None or period.contains(s["date"]))]
    return summarise(marks)


# --- the rubric --------------------------------------------------------------------------

def _district_code(store: Store) -> str:
    return store.node.unit_code


def rubric_for(store: Store, period: Period) -> tuple[dict[str, int], bool]:
    """The rubric of `period` and whether the district set it (else the default)."""
    row = store.conn.execute(
        f"SELECT {', '.join(RUBRIC_SETTINGS)} FROM rubric WHERE period = ? ORDER BY id LIMIT 1",
        (period.code,)).fetchone()
    if row is None:
        return dict(DEFAULT_RUBRIC), False
    values = {name: (DEFAULT_RUBRIC[name] if value is None else int(value))
              for name, value in zip(RUBRIC_SETTINGS, row, strict=True)}
    return values, True


def set_rubric(store: Store, period_text: str, settings: Mapping[str, object]) -> dict[str, int]:
    """The district sets (some of) the rubric's weights for a period; returns the rubric."""
    _require_district(store, N_("Only the district node sets the rubric"))
    period = period_of(period_text)
    unknown = sorted(set(settings) - set(RUBRIC_SETTINGS))
    if unknown:
        raise Refused("Unknown rubric settings: {names} (known: {known})",
                      names=", ".join(unknown), known=", ".join(RUBRIC_SETTINGS))
    current, _set = rubric_for(store, period)
    data: dict[str, object] = {**current, **settings, "period": period.code,
                               "district_code": _district_code(store)}
    record_id = stable_id("rubric", _district_code(store), period.code)
    with store.transaction():
        _upsert(store, "rubric", record_id, data, _district_code(store))
    return rubric_for(store, period)[0]


# --- model cases and adoption ------------------------------------------------------------

def model_id(case_id: str) -> str:
    """The id of a case's model mark (one per case)."""
    return stable_id("model", case_id)


#: What a model mark copies from its case, for units that will never hold the case.
_SNAPSHOT = ("title", "direction", "aspects", "problem_addressed", "measures", "results")
#: What an adoption starts from (its results are its own to write).
_ADOPTED = ("direction", "aspects", "problem_addressed", "measures")


def mark_model(store: Store, case_id: str, marked_by: str,
               citation: str | None = None) -> str:
    """The district holds up a scored or approved case as a model for other units.

    The mark carries a snapshot of the case (title, direction, measures, results…)
    because the units that adopt it receive the mark, not the other unit's case.
    """
    _require_district(store, N_("Only the district node marks model cases"))
    case = get_case(store, case_id)
    if case["status"] not in _SCORABLE:
        raise Refused("Only approved or scored cases can be models; this one is {status}",
                      status=CaseStatus(case["status"] or "draft"))
    record_id = model_id(case_id)
    data: dict[str, object] = {
        "case_id": case_id, "marked_by": marked_by, "date": store.today(),
        "withdrawn": False, "origin_unit": case["unit_code"],
        "unit_name": unit_name(store, case["unit_code"]) or case["unit_code"],
        **{name: case[name] for name in _SNAPSHOT},
    }
    if citation is not None:
        data["citation"] = citation
    with store.transaction():
        _upsert(store, "model_case", record_id, data, case["unit_code"])
    return record_id


def _model(store: Store, case_id: str) -> dict[str, Any] | None:
    """The current (not withdrawn) model mark of a case, or None."""
    mark = records.get_record(store, "model_case", model_id(case_id))
    if mark is None or mark["withdrawn"]:
        return None
    return mark


def withdraw_model(store: Store, case_id: str) -> None:
    """The district no longer holds the case up as a model (the mark stays, withdrawn)."""
    _require_district(store, N_("Only the district node marks model cases"))
    case = get_case(store, case_id)
    if _model(store, case_id) is None:
        raise Refused("Case {id} is not a model case", id=case_id)
    records.update_record(store, "model_case", model_id(case_id), {"withdrawn": True},
                          owner=case["unit_code"])


def is_model(store: Store, case_id: str) -> bool:
    """Whether the case is currently a model."""
    return _model(store, case_id) is not None


def model_cases(store: Store) -> list[dict[str, Any]]:
    """Current model cases known here, with how many adoptions each has, newest first."""
    return records.select_dicts(
        store,
        "SELECT m.case_id AS id, m.origin_unit AS unit_code, m.unit_name, m.title, "
        "m.citation, m.marked_by, m.date, "
        "(SELECT count(*) FROM innovation_case a WHERE a.origin_case_id = m.case_id) "
        "AS adoptions FROM model_case m WHERE coalesce(m.withdrawn, 0) = 0 "
        "ORDER BY m.date DESC, m.case_id",
    )


def adopt_case(store: Store, origin_id: str, lead_person: str,
               title: str | None = None) -> str:
    """Another unit adopts a model case: a new draft of its own, linked to the origin."""
    if store.node.role is not Role.VILLAGE:
        raise Refused("Only a village or section node adopts model cases")
    mark = _model(store, origin_id)
    if mark is None:
        raise Refused("Case {id} is not a model case; only model cases can be adopted",
                      id=origin_id)
    if mark["origin_unit"] == store.node.unit_code:
        raise Refused("A unit cannot adopt its own case")
    data: dict[str, Any] = {name: mark[name] for name in _ADOPTED if mark[name]}
    data.update(title=title or mark["title"], lead_person=lead_person,
                origin_case_id=origin_id)
    return create_case(store, data)


def adoptions_of(store: Store, origin_id: str) -> list[dict[str, Any]]:
    """Cases that adopted `origin_id`: id, unit, title, status."""
    return records.select_dicts(
        store,
        "SELECT id, unit_code, title, status FROM innovation_case WHERE origin_case_id = ? "
        "ORDER BY unit_code, id", (origin_id,),
    )


@dataclass(frozen=True)
class ScorableCase:
    """An approved or scored case as the scoring list shows it."""

    case_id: str
    unit_name: str
    title: str
    status: str
    score: CaseScore | None


def scorable_cases(store: Store) -> list[ScorableCase]:
    """Approved cases (waiting for experts) first, then scored ones; by unit and title."""
    marks: dict[str, list[int]] = {}
    for case_id, score in store.conn.execute(
            "SELECT case_id, score FROM score WHERE score IS NOT NULL ORDER BY case_id"):
        marks.setdefault(case_id, []).append(int(score))
    rows = store.conn.execute(
        "SELECT c.id, coalesce(u.name, c.unit_code), coalesce(c.title, ''), c.status "
        "FROM innovation_case c LEFT JOIN unit u ON u.code = c.unit_code "
        "WHERE c.status IN (?, ?) ORDER BY c.status = ?, c.unit_code, c.title, c.id",
        (CaseStatus.APPROVED.value, CaseStatus.SCORED.value, CaseStatus.SCORED.value))
    return [ScorableCase(case_id, unit, title, status, summarise(marks.get(case_id, [])))
            for case_id, unit, title, status in rows]
