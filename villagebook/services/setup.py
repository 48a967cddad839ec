"""Setting a node up: its unit, its role, its place in the hierarchy."""

from __future__ import annotations

from villagebook.domain.enums import Role, UnitKind
from villagebook.domain.fields import UNIT
from villagebook.domain.validation import UNIT_CODE, FieldError, ValidationError, validate
from villagebook.services.errors import Refused
from villagebook.services.records import write_changes
from villagebook.store.node import NodeInfo, Store

_KIND_OF_ROLE = {
    Role.VILLAGE: UnitKind.VILLAGE,
    Role.TOWNSHIP: UnitKind.TOWNSHIP,
    Role.DISTRICT: UnitKind.DISTRICT,
}


def init_node(
    store: Store,
    role: Role,
    unit_code: str,
    name: str,
    parent_code: str | None = None,
    *,
    kind: UnitKind | None = None,
) -> NodeInfo:
    """Make this home a node of `unit_code`. Refuses a home that is already set up.

    A village (or section) names its township as parent and a township its
    district; a district has none.
    """
    if store.initialised:
        raise Refused("This home is already set up as unit {unit}; use another --home",
                      unit=store.node.unit_code)
    kind = kind or _KIND_OF_ROLE[role]
    if role is not Role.DISTRICT and not parent_code:
        raise Refused("A {role} node needs its parent unit's code (--parent)", role=role)
    if role is Role.DISTRICT and parent_code:
        raise Refused("A district node has no parent unit")
    if parent_code is not None and not UNIT_CODE.match(parent_code):
        raise ValidationError([FieldError("parent_code", "{value} is not a 12-digit unit code",
                                          {"value": parent_code})])
    if parent_code == unit_code:
        raise Refused("A unit cannot be its own parent")
    unit = validate(
        UNIT,
        {"code": unit_code, "name": name, "kind": kind.value, "parent_code": parent_code},
        creating=True,
    )
    if not UNIT_CODE.match(unit["code"]):
        raise ValidationError([FieldError("code", "{value} is not a 12-digit unit code",
                                          {"value": unit["code"]})])
    with store.transaction():
        node = store.create_node(unit["code"], role)
        values = {key: value for key, value in unit.items() if value is not None}
        write_changes(store, "unit", unit["code"], unit["code"], values, fresh=True)
    return node


def unit_name(store: Store, code: str) -> str | None:
    """The display name of a unit, when this node knows it."""
    row = store.conn.execute("SELECT name FROM unit WHERE code = ?", (code,)).fetchone()
    return str(row[0]) if row and row[0] else None
