"""One table from a failure to the sentence a person reads, for every front end.

The command line (`cli.base.user_errors`) and the app (`VillageBookApp.report_failed_worker`)
both ask `explain_failure`; neither keeps a list of its own, so a full disk or a busy
database says the same calm sentence in a terminal and in a screen. A failure the table
does not know gives None: the caller treats it as an internal error (CLI: exit 3 and
error.log; app: "Something went wrong").

Order matters: the first row whose test holds explains the failure (a `HomeBusy` is
also an `OperationalError`, which is also a `DatabaseError`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from villagebook.domain.clock import ClockDriftError
from villagebook.domain.validation import ValidationError
from villagebook.i18n import N_, _
from villagebook.services.errors import Refused
from villagebook.services.messages import describe, safe_text
from villagebook.store.db import disk_full, is_busy, is_read_only
from villagebook.store.migrations import FutureSchemaError

DISK_FULL = N_("The disk is full; nothing was saved. Free some space and try again")
FUTURE_SCHEMA = N_("This home was written by a newer VillageBook; please upgrade")
DAMAGED = N_("The database file is damaged or not a VillageBook database")
CLOCK_AHEAD = N_("A timestamp lies {days:.0f} days in the future; check this laptop's clock")
READ_ONLY_AT = N_("This home ({home}) cannot be written (a write-protected disk or "
                  "folder?); nothing was changed")
READ_ONLY = N_("This home cannot be written (a write-protected disk or folder?); "
                       "nothing was changed")
CANNOT_USE = N_("Cannot use {path}: {reason}")

Explain = Callable[[BaseException, "str | None"], str]


def _refused(error: BaseException, entity: str | None) -> str:
    return describe(error, entity)


def _clock(error: BaseException, _entity: str | None) -> str:
    assert isinstance(error, ClockDriftError)
    return _(CLOCK_AHEAD).format(days=error.ahead_days)


def _read_only(error: BaseException, _entity: str | None) -> str:
    home = getattr(error, "home", None)
    if home is None:
        return _(READ_ONLY)
    return _(READ_ONLY_AT).format(home=safe_text(home))


def _os_error(error: BaseException, _entity: str | None) -> str:
    assert isinstance(error, OSError)
    return _(CANNOT_USE).format(path=safe_text(error.filename or ""),
                                reason=safe_text(error.strerror or error))


def _fixed(msgid: str) -> Explain:
    return lambda _error, _entity: _(msgid)


#: (does this row explain the failure?, the sentence), first match wins.
FAILURES: tuple[tuple[Callable[[BaseException], bool], Explain], ...] = (
    (lambda e: isinstance(e, (Refused, ValidationError)), _refused),
    (lambda e: isinstance(e, FutureSchemaError), _fixed(FUTURE_SCHEMA)),
    (lambda e: isinstance(e, ClockDriftError), _clock),
    (is_read_only, _read_only),
    (lambda e: isinstance(e, (sqlite3.OperationalError, OSError)) and disk_full(e),
     _fixed(DISK_FULL)),
    (is_busy, _refused),
    (lambda e: isinstance(e, sqlite3.DatabaseError)
     and not isinstance(e, sqlite3.OperationalError), _fixed(DAMAGED)),
    (lambda e: isinstance(e, OSError), _os_error),
)


def explain_failure(error: BaseException | None, entity: str | None = None) -> str | None:
    """The sentence, in the user's language, for a failure we know; None for any other
    (an internal error). `entity` names the kind of record a validation error is about."""
    if error is None:
        return None
    for explains, sentence in FAILURES:
        if explains(error):
            return sentence(error, entity)
    return None
