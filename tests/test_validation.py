"""Validation: one set of rules for forms, spreadsheets and the command line."""

from __future__ import annotations

import datetime as dt

import pytest

from villagebook.domain.fields import CASE, PROBLEM
from villagebook.domain.validation import ValidationError, parse_value, validate


def good_case(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "unit_code": "320117100201",
        "title": "白马村积分制推动垃圾分类",
        "lead_person": "王建国",
        "direction": "breakthrough",
    }
    data.update(overrides)
    return data


def test_a_complete_case_passes_and_is_normalised() -> None:
    parsed = validate(CASE, good_case(start_date="2021年2月20日", fault_tolerance="是",
                                      principles="问题导向、群众认可"), creating=True)
    assert parsed["start_date"] == "2021-02-20"
    assert parsed["fault_tolerance"] is True
    assert parsed["principles"] == ["problem_oriented", "public_recognition"]


def test_every_missing_required_field_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(CASE, {"unit_code": "320117100201"}, creating=True)
    assert {e.field for e in caught.value.errors} == {"title", "lead_person", "direction"}


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("direction", "营商环境中的流程再造", "process"),
        ("direction", "Creative implementation of policy", "implementation"),
        ("direction", "BREAKTHROUGH", "breakthrough"),
        ("start_date", dt.datetime(2021, 2, 19, 9, 30), "2021-02-19"),
        ("start_date", "2021/2/9", "2021-02-09"),
        ("start_date", "20210219", "2021-02-19"),
        ("aspects", ["mode", "approach"], ["approach", "mode"]),
        ("title", "  留白  ", "留白"),
        ("title", "", None),
    ],
)
def test_values_are_parsed_from_every_common_spelling(field: str, raw: object,
                                                      expected: object) -> None:
    assert parse_value(CASE.field(field), raw) == expected


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("direction", "创新"),
        ("start_date", "2021-02-30"),
        ("start_date", "昨天"),
        ("start_date", "1800-01-01"),
        ("title", "长" * 101),
        ("fault_tolerance", "也许"),
        ("linked_problem_ids", "not-a-uuid"),
    ],
)
def test_bad_values_are_refused_with_a_reason(field: str, raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_value(CASE.field(field), raw)
    assert caught.value.errors[0].field == field


def test_unknown_fields_and_bad_unit_codes_are_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(PROBLEM, {"titel": "x", "unit_code": "12345"}, creating=False)
    assert {e.field for e in caught.value.errors} == {"titel", "unit_code"}


def test_an_update_may_not_blank_a_required_field() -> None:
    with pytest.raises(ValidationError):
        validate(CASE, {"title": "   "}, creating=False)
