"""Why a bundle was refused: one class, an English msgid and its parameters.

`BundleRejected` is a `Refused`, so the command line and the screens translate
it like any other refusal; `reason` is a stable code for `--json` and tests.
"""

from __future__ import annotations

from typing import Any

from villagebook.services.errors import Refused


class BundleRejected(Refused):
    """A bundle that may not be merged; nothing of it was applied."""

    def __init__(self, reason: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.reason = reason
