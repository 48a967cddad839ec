"""The app's cold-start guard: read the home (is it set up, which language, the
dashboard's figures) on a thread started before Textual is even imported, so
the disk and SQLite work while Python loads the interface."""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from villagebook.domain.clock import ClockReading
from villagebook.services import clock
from villagebook.services.config_file import read_config
from villagebook.services.dashboard import Figures, read_figures
from villagebook.store.home import database_path
from villagebook.store.node import Store


@dataclass(frozen=True)
class HomeState:
    """What the first screen needs to know about a home."""

    initialised: bool
    language: str | None
    figures: Figures | None
    #: The user's own keys: binding id → keys, e.g. {"list.new": "insert"} (setting "keymap").
    keymap: dict[str, str] = field(default_factory=dict)
    #: The clocks as found on start (None on a fresh home), and how many own changes
    #: were re-dated then because the laptop's clock had been set right.
    clock: ClockReading | None = None
    redated: int = 0
    #: The theme chosen in the config file (None: Textual's default).
    theme: str | None = None


_pending: dict[Path, Future[HomeState]] = {}


def read_home(home: Path) -> HomeState:
    """Whether `home` is set up, its language setting, and (if set up) its figures."""
    with Store(home) as store:
        initialised = store.initialised
        language = store.get_setting("language")
        config = read_config(home)  # the file's keys win over the older "keymap" setting
        keymap = {**_keymap(store.get_setting("keymap")), **config.keys}
        reading = store.clock_reading() if initialised else None
        # A clock set right since it ran ahead: re-date now, so the user hears of it at once.
        redated = clock.settle(store) if initialised else 0
    return HomeState(initialised, language, read_figures(home) if initialised else None,
                     keymap, reading, redated, config.theme)


def _keymap(text: str | None) -> dict[str, str]:
    """The "keymap" setting (a JSON object of binding id → keys); nothing if malformed."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(key): str(keys) for key, keys in value.items() if isinstance(keys, str)}


def prefetch(home: Path) -> None:
    """Start reading an existing home in the background (a fresh home is left alone:
    creating its database is the first screen's job)."""
    if home in _pending or not database_path(home).exists():
        return
    future: Future[HomeState] = Future()

    def run() -> None:
        try:
            future.set_result(read_home(home))
        except BaseException as error:  # handed to whoever takes the result
            future.set_exception(error)

    _pending[home] = future
    threading.Thread(target=run, name="villagebook-prefetch", daemon=True).start()


def take_home_state(home: Path) -> HomeState:
    """The prefetched state of `home` (waiting for it), or a fresh read."""
    future = _pending.pop(home, None)
    if future is not None and future.exception() is None:
        return future.result()
    return read_home(home)  # again, so that a failure is raised where it is handled
