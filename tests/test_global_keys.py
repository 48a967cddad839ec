"""Global navigation keys mean one thing on every screen (issue 19, item 1).

F1 is help, F2–F9, Ctrl+G and Ctrl+N open the screens of `NAVIGATION` and Ctrl+O the
reports folder, everywhere. A
screen that bound one of them to its own action (the Sync screen once wrote a bundle on
F2, meant as "go home") would make a habit dangerous, so every screen class of the app
is walked and its bindings checked."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from textual.binding import Binding
from textual.screen import Screen

import villagebook.screens
from villagebook.screens.village_app import VillageBookApp


def _keys(binding: object) -> set[str]:
    if isinstance(binding, Binding):
        return set(binding.key.split(","))
    return set(str(binding[0]).split(","))  # type: ignore[index]


#: Every key the app itself binds: help, the screens of `NAVIGATION`, the reports
#: folder, quit (Tab and Shift+Tab move focus; a screen may take them for the same).
GLOBAL_KEYS = {key for binding in VillageBookApp.BINDINGS for key in _keys(binding)
               } - {"tab", "shift+tab"}

#: The one allowed exception: F1 closes the help it opened (the same key, the same job).
SAME_MEANING = {("HelpScreen", "f1")}


def _screen_classes() -> list[type[Screen[object]]]:
    found: dict[str, type[Screen[object]]] = {}
    for module_info in pkgutil.walk_packages(villagebook.screens.__path__,
                                             "villagebook.screens."):
        module = importlib.import_module(module_info.name)
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Screen) and value.__module__.startswith("villagebook."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_the_walk_sees_the_screens_that_matter() -> None:
    names = {cls.__name__ for cls in _screen_classes()}
    assert {"SyncScreen", "DashboardScreen", "CaseListScreen", "KeysScreen"} <= names


def test_no_screen_rebinds_a_global_key() -> None:
    clashes = [
        f"{cls.__name__}: {key}"
        for cls in _screen_classes()
        for binding in cls.BINDINGS
        for key in _keys(binding) & GLOBAL_KEYS
        if (cls.__name__, key) not in SAME_MEANING
    ]
    assert clashes == []
