"""The start-up guard (as harlequin keeps one): the modules loaded by the time the
dashboard shows its figures stay within an allow-list. A new import on the first-paint
path (a heavy library, a screen that is not shown, the ORM) fails here and is decided in
review, not found later as a slower start. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from villagebook.store.node import Store

#: Packages outside the standard library allowed before the first frame.
THIRD_PARTY = {"textual", "rich", "platformdirs", "typing_extensions", "_distutils_hack"}

#: Our modules allowed before the first frame: the dashboard and what it reads with.
OURS = {
    "villagebook", "villagebook.i18n",
    "villagebook.domain", "villagebook.domain.authority", "villagebook.domain.change_rules",
    "villagebook.domain.clock", "villagebook.domain.enums", "villagebook.domain.fields",
    "villagebook.domain.rules", "villagebook.domain.validation",
    "villagebook.screens", "villagebook.screens.app", "villagebook.screens.dashboard",
    "villagebook.screens.finder", "villagebook.screens.terminal_watch",
    "villagebook.screens.village_app",
    "villagebook.screens.widgets", "villagebook.screens.widgets.bar_chart",
    "villagebook.screens.widgets.bindings", "villagebook.screens.widgets.worker_errors",
    "villagebook.services", "villagebook.services.clock", "villagebook.services.dashboard",
    "villagebook.services.config_file", "villagebook.services.errors",
    "villagebook.services.messages",
    "villagebook.services.records", "villagebook.services.setup",
    "villagebook.services.startup",
    "villagebook.store", "villagebook.store.changelog", "villagebook.store.db",
    "villagebook.store.home", "villagebook.store.migrations",
    "villagebook.store.migrations_base", "villagebook.store.node",
    "villagebook.store.schema_evaluation", "villagebook.store.schema_evidence",
    "villagebook.store.schema_inputs",
    "villagebook.store.schema_sync", "villagebook.store.schema_tui",
    "villagebook.store.search_index",
}

#: Textual's widgets built for the first frame (the dashboard, its footer, the palette).
WIDGETS = {
    "_button", "_directory_tree", "_footer", "_header", "_input", "_label",
    "_loading_indicator", "_option_list", "_placeholder", "_select", "_static", "_toast",
    "_tooltip", "_tree", "option_list",
}

PROBE = """
import json, sys, time
from pathlib import Path
from villagebook.screens.app import make_app

async def at_first_figures(pilot):
    give_up = time.monotonic() + 60  # a dashboard that never shows fails the test below
    while getattr(pilot.app.screen, "figures", None) is None and time.monotonic() < give_up:
        await pilot.pause(0.01)
    print(json.dumps(sorted(sys.modules)), flush=True)
    pilot.app.exit()

make_app(Path(sys.argv[1]), "zh").run(headless=True, size=(80, 24), auto_pilot=at_first_figures)
"""


def modules_at_first_figures(home: Path) -> list[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(home)], capture_output=True,
                          text=True, env=env, timeout=120, check=True)
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_dashboard_shows_before_anything_outside_the_allow_list_loads(
        village: Store) -> None:
    village.close()
    loaded = modules_at_first_figures(village.home)
    assert "villagebook.screens.dashboard" in loaded, "the probe saw the dashboard's figures"
    tops = {name.split(".")[0] for name in loaded} - set(sys.stdlib_module_names)
    tops -= {"__main__", "villagebook"}
    assert tops - THIRD_PARTY == set(), "new packages on the start-up path"
    ours = {name for name in loaded if name.split(".")[0] == "villagebook"}
    assert ours - OURS == set(), "new VillageBook modules on the start-up path"
    widgets = {name.removeprefix("textual.widgets.") for name in loaded
               if name.startswith("textual.widgets.")}
    assert widgets - WIDGETS == set(), "new Textual widgets on the start-up path"
