"""Validation and parsing of field values: the one place the CLI, the importer,
the sync layer and the screens ask "is this value acceptable?".

Values arrive as typed Python objects (from forms) or as strings (from a
spreadsheet cell or `set FIELD=VALUE`). Both are parsed to the stored form:
text stripped, dates as ISO `YYYY-MM-DD`, choices as their stable codes, lists
as lists. Errors carry an English msgid and parameters, translated only when
shown, so a sentence is never built from fragments.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as default
from functools import cache
from typing import Any

from villagebook.domain.enums import Choice
from villagebook.domain.fields import Entity, Field, Kind

_LIST_SEPARATORS = re.compile(r"[,，、;；/\n]+")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_TRUE_WORDS = {"1", "true", "yes", "y", "是", "有", "√", "✓", "申请"}
_FALSE_WORDS = {"0", "false", "no", "n", "否", "无", "×", "✗", "不申请"}
UNIT_CODE = re.compile(r"[0-9]{12}\Z")  # not \d, $: "٣…", "…\n" are no codes
MIN_YEAR, MAX_YEAR = 1949, 2100
#: Fields that hold a unit's 12-digit code (whatever the entity calls them).
UNIT_CODE_FIELDS = frozenset({"unit_code", "code", "parent_code", "district_code",
                              "origin_unit"})


@dataclass(frozen=True)
class FieldError:
    """Why one field's value was refused. `message` is an English msgid."""

    field: str
    message: str
    params: Mapping[str, Any] = default(default_factory=dict)


class ValidationError(Exception):
    """A record failed validation; `errors` lists every problem, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class _Refused(Exception):
    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


def parse_date(raw: object) -> str:
    """Parse a date from a date object or a common Chinese/ISO spelling to `YYYY-MM-DD`."""
    if isinstance(raw, dt.datetime):
        value = raw.date()
    elif isinstance(raw, dt.date):
        value = raw
    else:
        text = str(raw).strip()
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                try:
                    value = dt.date(*(int(part) for part in match.groups()))
                except ValueError:
                    raise _Refused("{value} is not a real date", value=text) from None
                break
        else:
            raise _Refused("{value} is not a date (use 2021-02-20)", value=text)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise _Refused("{value} is outside the years {low}–{high}", value=value.isoformat(),
                       low=MIN_YEAR, high=MAX_YEAR)
    return value.isoformat()


@cache
def _choice_lookup(choices: type[Choice]) -> dict[str, str]:
    # Accept the code, the English label and the Chinese label, whatever the UI language.
    from villagebook.i18n import translate

    lookup: dict[str, str] = {}
    for member in choices:
        for spelling in (member.value, member.label, translate(member.label, "zh")):
            lookup[spelling.strip().casefold()] = member.value
    return lookup


def _parse_choice(spec: Field, raw: object) -> str:
    assert spec.choices is not None
    text = str(raw.value if isinstance(raw, Choice) else raw).strip()
    code = _choice_lookup(spec.choices).get(text.casefold())
    if code is None:
        raise _Refused("{value} is not one of: {allowed}", value=text,
                       allowed=tuple(spec.choices))
    return code


def split_list(raw: object) -> list[str]:
    """The parts of a list as people type it (commas, 、, semicolons, slashes or lines)."""
    if isinstance(raw, str):
        return [part.strip() for part in _LIST_SEPARATORS.split(raw) if part.strip()]
    if isinstance(raw, Iterable):
        return [str(part).strip() for part in raw if str(part).strip()]
    raise _Refused("{value} is not a list", value=str(raw))


def _parse_ref(raw: object) -> str:
    text = str(raw).strip().lower()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise _Refused("{value} is not a record id", value=str(raw)) from None


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().casefold()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise _Refused("{value} is not yes or no", value=str(raw))


def _parse_int(spec: Field, raw: object) -> int:
    if isinstance(raw, bool):
        raise _Refused("{value} is not a whole number", value=str(raw))
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise _Refused("{value} is not a whole number", value=str(raw)) from None
    low = spec.minimum if spec.minimum is not None else value
    high = spec.maximum if spec.maximum is not None else value
    if not low <= value <= high:
        raise _Refused("{value} is outside {low}–{high}", value=value, low=low, high=high)
    return value


def _parse_text(spec: Field, raw: object) -> str:
    text = str(raw).strip()
    if spec.max_length is not None and len(text) > spec.max_length:
        raise _Refused("is {length} characters long; at most {limit} are allowed",
                       length=len(text), limit=spec.max_length)
    if spec.pattern is not None and _pattern(spec.pattern).fullmatch(text) is None:
        raise _Refused("{value} is not in the form the app stores", value=text[:40])
    return text


@cache
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _is_empty(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple | set | frozenset):
        return not raw
    return False


def parse_value(spec: Field, raw: object) -> Any:
    """Parse one raw value to its stored form; `None` for empty. Raises ValidationError."""
    try:
        return _parse(spec, raw)
    except _Refused as refused:
        raise ValidationError([FieldError(spec.name, refused.message, refused.params)]) from None


def _parse(spec: Field, raw: object) -> Any:
    if _is_empty(raw):
        return [] if spec.is_list else None
    if spec.kind in (Kind.TEXT, Kind.LONGTEXT):
        return _parse_text(spec, raw)
    if spec.kind is Kind.DATE:
        return parse_date(raw)
    if spec.kind is Kind.CHOICE:
        return _parse_choice(spec, raw)
    if spec.kind is Kind.CHOICES:
        codes = {_parse_choice(spec, part) for part in split_list(raw)}
        assert spec.choices is not None
        return [code for code in spec.choices.codes() if code in codes]
    if spec.kind is Kind.BOOL:
        return _parse_bool(raw)
    if spec.kind is Kind.INT:
        return _parse_int(spec, raw)
    if spec.kind is Kind.REF:
        return _parse_ref(raw)
    if spec.kind is Kind.REFS:
        return sorted({_parse_ref(part) for part in split_list(raw)})
    raise AssertionError(spec.kind)


def validate(entity: Entity, data: Mapping[str, object], *, creating: bool) -> dict[str, Any]:
    """Parse every field in `data`; check required fields (all of them when creating).

    Returns the parsed values; raises ValidationError listing every bad field.
    Unknown field names are errors too, so a typo in `set titel=…` is caught.
    """
    errors: list[FieldError] = []
    parsed: dict[str, Any] = {}
    known = set(entity.field_names)
    for name in data:
        if name not in known:
            errors.append(FieldError(name, "no such field (known fields: {known})",
                                     {"known": ", ".join(entity.field_names)}))
    for spec in entity.fields:
        if spec.name not in data:
            if creating and spec.required:
                errors.append(FieldError(spec.name, "is required"))
            continue
        try:
            value = _parse(spec, data[spec.name])
        except _Refused as refused:
            errors.append(FieldError(spec.name, refused.message, refused.params))
            continue
        if spec.required and _is_empty(value):
            errors.append(FieldError(spec.name, "is required"))
            continue
        code_error = _unit_code_error(spec, value)
        if code_error is not None:
            errors.append(code_error)
            continue
        parsed[spec.name] = value
    if errors:
        raise ValidationError(errors)
    return parsed


def _unit_code_error(spec: Field, value: object) -> FieldError | None:
    if spec.name in UNIT_CODE_FIELDS and isinstance(value, str) and not UNIT_CODE.match(value):
        return FieldError(spec.name, "{value} is not a 12-digit unit code", {"value": value})
    return None


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _stored_date(value: object) -> bool:
    if type(value) is not str or not _ISO_DATE.match(value):
        return False
    try:
        return MIN_YEAR <= dt.date.fromisoformat(value).year <= MAX_YEAR
    except ValueError:
        return False


@cache
def stored_form_test(spec: Field) -> Callable[[object], bool]:
    """A quick test of one field's values: True for a value plainly in stored form
    (None too, for optional fields); False means "ask `stored_value_error`", which
    parses and says why. Built once per field: sync runs it on every value it merges."""
    empty_ok = not spec.required
    limit = spec.max_length if spec.max_length is not None else 1 << 62
    if spec.kind in (Kind.TEXT, Kind.LONGTEXT):
        code = spec.name in UNIT_CODE_FIELDS
        shape = _pattern(spec.pattern) if spec.pattern is not None else None
        return lambda v: (v is None and empty_ok) or (
            type(v) is str and v != "" and not v[0].isspace() and not v[-1].isspace()
            and len(v) <= limit and (not code or UNIT_CODE.match(v) is not None)
            and (shape is None or shape.fullmatch(v) is not None))
    if spec.kind in (Kind.CHOICE, Kind.CHOICES):
        assert spec.choices is not None
        codes = spec.choices.codes()
        if spec.kind is Kind.CHOICE:
            known = frozenset(codes)
            return lambda v: (v is None and empty_ok) or (type(v) is str and v in known)
        order = {c: i for i, c in enumerate(codes)}
        return lambda v: v is None or (type(v) is list and all(
            type(c) is str and c in order for c in v) and all(
            order[a] < order[b] for a, b in itertools.pairwise(v)))
    if spec.kind is Kind.DATE:
        return lambda v: (v is None and empty_ok) or _stored_date(v)
    if spec.kind is Kind.INT:
        low = spec.minimum if spec.minimum is not None else -(1 << 62)
        high = spec.maximum if spec.maximum is not None else 1 << 62
        return lambda v: (v is None and empty_ok) or (type(v) is int and low <= v <= high)
    if spec.kind is Kind.BOOL:
        return lambda v: (v is None and empty_ok) or type(v) is bool
    if spec.kind is Kind.REF:
        return lambda v: (v is None and empty_ok) or (type(v) is str and
                                                     _UUID.match(v) is not None)
    return lambda v: False  # lists of ids: parsed every time


def stored_value_error(spec: Field, value: object) -> FieldError | None:
    """Why `value` is not one the app stores in field `spec`; None when it is.

    A stored value is what `validate` makes of some input: parsed, checked and in
    its one standard form (stripped text, an ISO date, a choice's code, a sorted
    list). Sync asks this of every value a bundle brings, so a peer cannot place
    a value that no form, import or command could have written.
    """
    if value is None or (spec.is_list and value == []):
        return FieldError(spec.name, "is required") if spec.required else None
    if stored_form_test(spec)(value):
        return None  # the common case, decided without parsing
    try:
        parsed = _parse(spec, value)
    except _Refused as refused:
        return FieldError(spec.name, refused.message, refused.params)
    if spec.required and _is_empty(parsed):
        return FieldError(spec.name, "is required")
    if parsed != value or type(parsed) is not type(value):
        return FieldError(spec.name, "{value} is not in the form the app stores",
                          {"value": str(value)[:40]})
    return _unit_code_error(spec, value)
