"""Which change sets the app could have written: one rule set for local writes
(the services) and for every change set a merge brings (sync).

A change set is one write of one record: some field values and, per field,
the changes its writer saw as current and replaces. It passes when

- every value is one the app stores (`validation.stored_value_error`);
- the set that creates a record (it carries the record's anchor, its owner or
  parent field, replacing nothing) holds every required field;
- fields fixed at creation keep their value: a change may restate one of the
  values it replaces, but a device never gives a fixed field a second value,
  and it creates a record once;
- a unit record agrees with the place its key was trusted for (parent, kind):
  a unit moves only by being set up again and trusted anew, never by a bundle;
- a status follows the path of `rules` from the status it replaces (judged from
  the winner of the replaced changes, as the writer's screen showed it), and
  only a case's first write starts one without a predecessor;
- a case's content is not edited by a device that had itself moved the case
  out of the editable states, unless an editable status reached it since.

The state-dependent rules look only at the changes a set names and at changes
its own device wrote, so an honest history passes in any arrival order; the
sync layer skips sets it already holds. What this cannot see is listed in
docs/SYNC.md ("Known limits").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from villagebook.domain.enums import CaseStatus, ProblemStatus, Role, UnitKind
from villagebook.domain.fields import DELETED_FIELD, ENTITIES, Entity, Field
from villagebook.domain.rules import CASE_EDITABLE, case_move_allowed, problem_moves
from villagebook.domain.validation import FieldError, stored_form_test, stored_value_error
from villagebook.i18n import N_, Term

INVALID_VALUE = "invalid_value"
FORBIDDEN_CHANGE = "forbidden_change"
BAD_STATUS = "bad_status"

#: The statuses a record's first write may carry. A case is logged as a draft;
#: the village demo logs some straight as submitted (the village's own next step).
#: Problems may be entered at any point of their path (import, demo).
FIRST_STATUSES: dict[str, frozenset[str]] = {
    "case": frozenset({CaseStatus.DRAFT.value, CaseStatus.SUBMITTED.value}),
    "problem": frozenset(ProblemStatus.codes()),
}

_KINDS_OF_ROLE: dict[str, frozenset[str]] = {
    Role.VILLAGE.value: frozenset({UnitKind.VILLAGE.value, UnitKind.SECTION.value}),
    Role.TOWNSHIP.value: frozenset({UnitKind.TOWNSHIP.value}),
    Role.DISTRICT.value: frozenset({UnitKind.DISTRICT.value}),
}


class RuleBroken(Exception):
    """A change set the app could not have written. `message` is an English msgid."""

    def __init__(self, reason: str, message: str, **params: Any) -> None:
        super().__init__(message.format(**params))
        self.reason = reason
        self.message = message
        self.params = params


class WrittenSet(Protocol):
    """What the rules read of a change set (the store's `ChangeSet` is one)."""

    set_id: str
    record_id: str
    hlc: int
    device_id: str
    fields: dict[str, Any]
    replaces: dict[str, list[str]]


@dataclass(frozen=True)
class UnitPlace:
    """Where the trust store puts a unit: its parent and its key's role."""

    parent: str | None
    role: str


@dataclass(frozen=True)
class _Prior:
    """One held field change of the record being judged."""

    change_id: str
    value: Any
    hlc: int
    device_id: str
    replaces: tuple[str, ...]
    creates: bool


# --- the predicates the services use too ------------------------------------------------

def content_editable(status: str | None) -> bool:
    """Whether a case in `status` may still have its content edited by its unit."""
    return CaseStatus(status or CaseStatus.DRAFT.value) in CASE_EDITABLE


def status_move_allowed(entity: str, role: Role, current: str, target: str) -> bool:
    """Whether a node of `role` may move a case or problem from `current` to `target`."""
    if entity == "case":
        return case_move_allowed(role, CaseStatus(current), CaseStatus(target))
    if entity == "problem":
        return ProblemStatus(target) in problem_moves(ProblemStatus(current))
    return False


def fixed_fields(entity: Entity, changed: Mapping[str, Any]) -> list[str]:
    """The fields of `changed` that are set once, at creation, and never changed."""
    fixed = _FIXED.get(entity.name)
    if fixed is None:  # an entity declared after this module was loaded
        fixed = frozenset(spec.name for spec in entity.fields if spec.immutable)
    return [name for name in changed if name in fixed]


def anchor(entity: Entity) -> str:
    """The field every record's first write carries: its owner or its parent record."""
    if entity.owner_field is not None:
        return entity.owner_field
    assert entity.parent is not None
    return entity.parent[0]


def creates(entity: Entity, change: WrittenSet) -> bool:
    """Whether the set is a record's first write (its anchor, replacing nothing)."""
    name = anchor(entity)
    return name in change.fields and not change.replaces.get(name)


# --- judging one change set -------------------------------------------------------------

# Per entity name, built once: merges run these on every value (a frozen Entity is
# costly to hash, so nothing here is keyed by one).
_SPECS: dict[str, dict[str, Field]] = {
    name: {spec.name: spec for spec in entity.fields} for name, entity in ENTITIES.items()}
_TESTS: dict[str, dict[str, Callable[[object], bool]]] = {
    name: {spec.name: stored_form_test(spec) for spec in entity.fields}
    for name, entity in ENTITIES.items()}
_FIXED: dict[str, frozenset[str]] = {
    name: frozenset(spec.name for spec in entity.fields if spec.immutable)
    for name, entity in ENTITIES.items()}


def check_values(entity: Entity, change: WrittenSet) -> bool:
    """Every value is a stored value, and a creating set is complete. Returns `creates`.

    Depends on the set alone, so it never depends on arrival order.
    """
    specs, tests = _specs(entity), _TESTS.get(entity.name) or {}
    for name, value in change.fields.items():
        test = tests.get(name)
        if name != DELETED_FIELD and (test is None or not test(value)):
            error = stored_value_error(specs[name], value)
            if error is not None:
                raise _invalid(entity, change, error)
    creating = creates(entity, change)
    if creating:
        for spec in entity.fields:
            if spec.required and spec.name not in change.fields:
                raise _invalid(entity, change, FieldError(spec.name, "is required"))
    return creating


def judge(entity: Entity, change: WrittenSet, role: Role, history: Sequence[WrittenSet],
          place: UnitPlace | None = None) -> None:
    """Refuse (RuleBroken) a change set of `entity` written by a node of `role` that
    the app could not have written, given the record's other known change sets.

    `history` may include the set itself (it is skipped) and sets arriving with
    it; `place` is where the trust store puts a unit record's unit.
    """
    creating = check_values(entity, change)
    if DELETED_FIELD in change.fields:
        return  # a tombstone ends the record; its other fields matter no more
    priors = _priors(entity, change, history)
    _check_fixed(entity, change, priors, creating)
    if place is not None and entity.name == "unit":
        _check_place(entity, change, place, creating)
    if "status" in change.fields and entity.name in FIRST_STATUSES:
        _check_status(entity, change, role, priors.get("status", []), creating)
    if entity.name == "case" and not creating and any(
            name != "status" for name in change.fields):
        if "status" in change.fields:  # the app moves a case and edits it in two writes
            raise _forbidden(entity, change, next(n for n in change.fields if n != "status"),
                             N_("{kind} record {record}: a status and its content are never "
                                "changed in one write"))
        _check_unlocked(entity, change, priors.get("status", []))


def judge_completion(entity: Entity, whole: WrittenSet, extra: Sequence[str], role: Role,
                     history: Sequence[WrittenSet], place: UnitPlace | None = None) -> None:
    """Judge a held change set that comes back with more fields (`extra`): `whole` is
    the held set with them. Besides the rules for `whole`, content it adds to a case
    that is locked now (every current status approved, scored, submitted) is refused:
    the set's own time says nothing about when its new part was written."""
    judge(entity, whole, role, history, place)
    if entity.name != "case" or not any(n not in ("status", DELETED_FIELD) for n in extra):
        return
    priors = _priors(entity, whole, history).get("status", [])
    replaced = {cid for p in priors for cid in p.replaces}
    current = [p for p in priors if p.change_id not in replaced]
    if current and all(p.value not in CASE_EDITABLE for p in current):
        name = next(n for n in extra if n not in ("status", DELETED_FIELD))
        raise _forbidden(entity, whole, name,
                         N_("Case {record} was {status} when this device changed its "
                            "{field}; its content can no longer be edited"),
                         status=_status(entity, current[0].value))


def _priors(entity: Entity, change: WrittenSet,
            history: Sequence[WrittenSet]) -> dict[str, list[_Prior]]:
    name = anchor(entity)
    priors: dict[str, list[_Prior]] = defaultdict(list)
    for held in history:
        if held.set_id == change.set_id:
            continue
        first = name in held.fields and not held.replaces.get(name)
        for field, value in held.fields.items():
            if field in change.fields or field == "status":
                priors[field].append(_Prior(f"{held.set_id}-{field}", value, held.hlc,
                                            held.device_id,
                                            tuple(held.replaces.get(field, ())), first))
    return priors


def _check_fixed(entity: Entity, change: WrittenSet, priors: Mapping[str, list[_Prior]],
                 creating: bool) -> None:
    if creating and any(p.device_id == change.device_id and p.creates
                        for p in priors.get(anchor(entity), ())):
        raise _forbidden(entity, change, anchor(entity),
                         N_("{kind} record {record} was already created by this device"))
    for name in fixed_fields(entity, change.fields):
        value = change.fields[name]
        replaced = set(change.replaces.get(name, ()))
        held = priors.get(name, [])
        if replaced:
            named = [p.value for p in held if p.change_id in replaced]
            clash = bool(named) and value not in named
        else:
            clash = any(p.device_id == change.device_id and p.value != value for p in held)
        if clash:
            raise _forbidden(entity, change, name,
                             N_("{field} of {kind} record {record} is set once and cannot be "
                                "changed"))


def _check_place(entity: Entity, change: WrittenSet, place: UnitPlace,
                 creating: bool) -> None:
    fields = change.fields
    known = place.parent is not None or place.role == Role.DISTRICT.value
    if known and ("parent_code" in fields or creating) and \
            fields.get("parent_code") != place.parent:
        raise _forbidden(entity, change, "parent_code",
                             N_("{field} of unit {record} must stay as it was set up: a "
                                "unit moves only when it is set up and trusted again"))
    kinds = _KINDS_OF_ROLE.get(place.role)
    if "kind" in fields and kinds is not None and fields["kind"] not in kinds:
        raise _forbidden(entity, change, "kind",
                         N_("{field} of unit {record} must stay as it was set up: a unit "
                            "moves only when it is set up and trusted again"))


def _check_status(entity: Entity, change: WrittenSet, role: Role, priors: list[_Prior],
                  creating: bool) -> None:
    target = change.fields["status"]
    replaced = set(change.replaces.get("status", ()))
    if not replaced:
        if creating and target in FIRST_STATUSES[entity.name]:
            return
        raise _bad_status(entity, change, N_("{kind} record {record} cannot take the status "
                                             "{target} without passing through the steps "
                                             "before it"))
    held = [p for p in priors if p.change_id in replaced]
    if not held:
        return  # what it replaces has not arrived here: it is judged where it has
    if _one_replaces_another(held, priors):
        raise _bad_status(entity, change, N_("{kind} record {record}: the status {target} "
                                             "replaces a status that was no longer current"))
    values = {p.value for p in held}
    if len(values) > 1 and target in values:
        return  # a person settled a conflict by keeping one of the values
    # With every replaced change in hand, the writer saw their winner; otherwise
    # any of them may have been it.
    sources = [max(held, key=lambda p: (p.hlc, p.device_id, p.change_id))] \
        if len(held) == len(replaced) else held
    if not any(_may_move(entity, role, p.value, target) for p in sources):
        raise _bad_status(entity, change,
                          N_("A node of role {role} cannot move {kind} record {record} "
                             "from {current} to {target}"),
                          current=_status(entity, sources[0].value), role=role)


def _may_move(entity: Entity, role: Role, current: object, target: object) -> bool:
    if current == target:
        return True
    try:
        return status_move_allowed(entity.name, role, str(current), str(target))
    except ValueError:
        return True  # an unknown held status (written before these rules): cannot judge


def _ancestors(start: _Prior, by_id: Mapping[str, _Prior]) -> set[str]:
    """Ids of the held changes `start` replaces, directly or through others."""
    seen: set[str] = set()
    todo = list(start.replaces)
    while todo:
        change_id = todo.pop()
        if change_id not in seen:
            seen.add(change_id)
            found = by_id.get(change_id)
            if found is not None:
                todo.extend(found.replaces)
    return seen


def _one_replaces_another(held: list[_Prior], priors: list[_Prior]) -> bool:
    """Whether one of `held` was already replaced, through held changes, by another:
    a writer replaces what it sees as current, and no current change replaces another."""
    by_id = {p.change_id: p for p in priors}
    ids = {p.change_id for p in held}
    return any(_ancestors(p, by_id) & ids for p in held)


def _check_unlocked(entity: Entity, change: WrittenSet, priors: list[_Prior]) -> None:
    """A device that moved the case out of draft/returned saw it locked, until an
    editable status (a withdrawal, a return) that does not precede its move reached it."""
    by_id = {p.change_id: p for p in priors}
    earlier = [p for p in priors if p.hlc < change.hlc]
    unlocks = [p for p in earlier if p.value in CASE_EDITABLE]
    for lock in earlier:
        if lock.device_id != change.device_id or lock.value in CASE_EDITABLE:
            continue
        before_lock = _ancestors(lock, by_id)
        if all(p.change_id in before_lock for p in unlocks):
            raise _forbidden(entity, change, next(n for n in change.fields if n != "status"),
                             N_("Case {record} was {status} when this device changed its "
                                "{field}; its content can no longer be edited"),
                             status=_status(entity, lock.value))


def _specs(entity: Entity) -> dict[str, Field]:
    found = _SPECS.get(entity.name)
    return found if found is not None else {spec.name: spec for spec in entity.fields}


# --- refusals ---------------------------------------------------------------------------

def _invalid(entity: Entity, change: WrittenSet, error: FieldError) -> RuleBroken:
    return RuleBroken(INVALID_VALUE, N_("{kind} record {record}: {field}: {problem}"),
                      kind=Term(entity.label), record=change.record_id,
                      field=Term(entity.field(error.field).label), problem=error)


def _forbidden(entity: Entity, change: WrittenSet, name: str, message: str,
               **params: Any) -> RuleBroken:
    return RuleBroken(FORBIDDEN_CHANGE, message, kind=Term(entity.label),
                      record=change.record_id, field=Term(entity.field(name).label), **params)


def _bad_status(entity: Entity, change: WrittenSet, message: str, **params: Any) -> RuleBroken:
    return RuleBroken(BAD_STATUS, message, kind=Term(entity.label), record=change.record_id,
                      target=_status(entity, change.fields["status"]), **params)


def _status(entity: Entity, value: object) -> object:
    """A status as a parameter: its label when it is a known code, else the raw text."""
    choices = entity.field("status").choices
    assert choices is not None
    return choices(value) if value in choices.codes() else str(value)[:40]
