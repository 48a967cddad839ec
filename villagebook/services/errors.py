"""Refusals the services raise, each with an English msgid and its parameters.

The CLI and the screens translate them for the user; nothing below them prints.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A request the domain rules refuse. `message` is an English msgid."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params


class RecordNotFound(Refused):
    """No live record has that id."""

    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__("No {kind} with id {id}", kind=kind, id=record_id)
