"""Turning refusals into sentences for people, and user data into safe text.

Shared by the command line and the screens, so both say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from villagebook.domain.enums import Choice
from villagebook.domain.fields import ENTITIES
from villagebook.domain.validation import FieldError, ValidationError
from villagebook.i18n import N_, Term, _
from villagebook.services.errors import Refused
from villagebook.store.db import is_busy

# C0 and C1 controls (but TAB), DEL, and bidi overrides that could reorder a line.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: object) -> str:
    """User data made harmless for a terminal: control characters shown as `\\xNN`.

    Keeps escape sequences in stored data from reaching the terminal, where they
    could move the cursor, change colours or forge a hyperlink.
    """
    return _UNSAFE.sub(lambda match: f"\\x{ord(match.group()):02x}", str(text))


def _localise_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _localise(value) for key, value in params.items()}


def _localise(value: Any) -> Any:
    if isinstance(value, Choice):
        return _(value.label)
    if isinstance(value, Term):
        return _(value)
    if isinstance(value, FieldError):  # a validation problem quoted inside a sentence
        return _(value.message).format(**_localise_params(value.params))
    if isinstance(value, str):  # quoted input (a cell, a file name, a bundle's field)
        return safe_text(value)
    if isinstance(value, tuple):  # a list of choices: their labels, as the language lists
        return _(LIST_SEPARATOR).join(str(_localise(item)) for item in value)
    return value


#: Between the items of a list inside a sentence ("、" in Chinese).
LIST_SEPARATOR = N_(", ")


def field_labels(entity_name: str | None, field_names: Iterable[str]) -> str:
    """Field names as the user reads them, listed: "负责人、问题名称"."""
    return _(LIST_SEPARATOR).join(field_label(entity_name, name) for name in field_names)


def field_label(entity_name: str | None, field_name: str) -> str:
    """The translated label of a field, or the raw name for unknown fields."""
    entity = ENTITIES.get(entity_name or "")
    if entity is not None:
        try:
            return _(entity.field(field_name).label)
        except KeyError:
            pass
    return safe_text(field_name)


#: What a write that waited in vain for another process says (see `store.db.HomeBusy`).
HOME_BUSY = N_("Another VillageBook is writing to this home; nothing was changed. "
               "Try again when it has finished")


def describe_field_error(error: FieldError, entity_name: str | None = None) -> str:
    """One validation problem as a sentence: "案例名称：不能为空"."""
    message = _(error.message).format(**_localise_params(error.params))
    return _("{field}: {problem}").format(field=field_label(entity_name, error.field),
                                          problem=message)


def describe(error: BaseException, entity_name: str | None = None) -> str:
    """A refusal or validation failure as one line in the user's language."""
    if isinstance(error, ValidationError):
        return "; ".join(describe_field_error(e, entity_name) for e in error.errors)
    if isinstance(error, Refused):
        return _(error.message).format(**_localise_params(error.params))
    if is_busy(error):
        return _(HOME_BUSY)
    return str(error)


def human_size(size: int | None) -> str:
    """A file size as people read it: 812 B, 45.3 KB, 1.2 MB."""
    value = float(size or 0)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} MB"
