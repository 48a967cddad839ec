"""Refusals the services raise, each with an English msgid and its parameters.

The CLI and the screens translate them for the user; nothing below them prints.
"""

from __future__ import annotations

from typing import Any

from villagebook.i18n import N_


class Refused(Exception):
    """A request the domain rules refuse. `message` is an English msgid."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params


_NOT_FOUND = {
    "case": N_("No case with id {id}"),
    "problem": N_("No ledger problem with id {id}"),
    "followup": N_("No follow-up with id {id}"),
    "unit": N_("No unit with code {id}"),
    "attachment": N_("No attachment with id {id}"),
}


class RecordNotFound(Refused):
    """No live record has that id."""

    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__(_NOT_FOUND.get(kind, N_("No record with id {id}")), id=record_id)
        self.kind = kind
