"""Issue 3's benchmark: the terminal app on a home with 100k cases and 100k problems.

- start-up: from launching a fresh Python process until the dashboard shows its
  figures, next to a bare Textual app (Header, Static, Footer) launched the same
  way in the same run (headless, so the terminal's speed is not measured);
- the case list: opening it, and jumping to its end (keyset paging);
- peak memory (VmHWM) of an app that opens the dashboard, both lists and both ends.

    python bench/bench_app.py [--cases N] [--runs N] [--rebuild]

The home is cached in bench/out/app-<N>/ between runs (building 100k + 100k
takes about two minutes). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import record  # noqa: E402

NOW = "2026-11-01T09:00:00"

#: The child programs, run with `python -c`; each prints one line of figures.
BARE = """
import sys, time
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

async def until_shown(pilot):
    await pilot.pause()
    print(time.time(), flush=True)
    pilot.app.exit()

Bare().run(headless=True, size=(80, 24), auto_pilot=until_shown)
"""

VILLAGEBOOK = """
import sys, time
from pathlib import Path
from villagebook.screens.app import make_app

async def until_figures(pilot):
    app = pilot.app
    while getattr(app.screen, "figures", None) is None:
        await pilot.pause(0.005)
    await pilot.pause()
    print(time.time(), flush=True)
    app.exit()

make_app(Path(sys.argv[1]), "zh").run(headless=True, size=(80, 24), auto_pilot=until_figures)
"""

TOUR = """
import json, sys, time
from pathlib import Path
from villagebook.screens.app import make_app

async def wait_until(pilot, done):
    while not done():
        await pilot.pause(0.002)

async def timed(pilot, act, done):
    start = time.perf_counter()
    await act()
    await wait_until(pilot, done)
    return (time.perf_counter() - start) * 1000

def loaded(table, generation=None):
    # A page was shown for the table's current query (and nothing is loading).
    return lambda: (table.page is not None and not table.loading_page
                    and (generation is None or table.shown_generation >= generation))

async def list_steps(pilot, key, kind):
    app = pilot.app
    figures = {}
    start = time.perf_counter()
    await pilot.press(key)
    await wait_until(pilot, lambda: getattr(app.screen.query_one("#rows"), "page", None)
                     is not None and app.screen.query_one("#rows").total is not None)
    figures[f"open the {kind} list (first page and count shown)"] = (
        time.perf_counter() - start) * 1000
    table = app.screen.query_one("#rows")
    figures[f"{kind} list: End"] = await timed(
        pilot, lambda: pilot.press("end"), lambda: not table.page.more_after)
    await pilot.press("home")
    await wait_until(pilot, lambda: not table.page.more_before and table.cursor_row == 0)
    table.move_cursor(row=table.row_count - 1)
    first = table.page.rows[0]["id"]
    figures[f"{kind} list: PageDown to the next page"] = await timed(
        pilot, lambda: pilot.press("pagedown"), lambda: table.page.rows[0]["id"] != first)
    screen = app.screen
    def change_filter():
        name = "status"
        screen.filters[name] = "submitted" if kind == "case" else "open"
        screen._reload()
    async def act_filter():
        change_filter()
    generation = table.generation + 1
    figures[f"{kind} list: a filter change"] = await timed(
        pilot, act_filter, lambda: table.generation == generation and
        table.page is not None and table.shown_generation == generation)
    screen.filters.clear()
    generation = table.generation + 1
    figures[f"{kind} list: a sort change"] = await timed(
        pilot, lambda: pilot.press("o"), lambda: table.shown_generation == generation)
    return figures

READING = 2.0

async def tour(pilot):
    app = pilot.app
    await wait_until(pilot, lambda: getattr(app.screen, "figures", None) is not None)
    await pilot.pause(READING)  # a user reads the dashboard before pressing F3
    figures = {}
    figures.update(await list_steps(pilot, "f3", "case"))
    table = app.screen.query_one("#rows")
    table.move_cursor(row=0)
    start = time.perf_counter()
    await pilot.press("enter")
    await wait_until(pilot, lambda: getattr(app.screen, "case", None) is not None)
    await pilot.pause()
    figures["open a case's detail from the list"] = (time.perf_counter() - start) * 1000
    figures.update(await list_steps(pilot, "f4", "problem"))
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    peak = next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith("VmHWM:")), 0)
    figures["app peak RSS (VmHWM) after the tour"] = peak / 1024
    figures["cases"] = table.total
    print(json.dumps(figures), flush=True)
    app.exit()

make_app(Path(sys.argv[1]), "zh").run(headless=True, size=(80, 24), auto_pilot=tour)
"""


def build_home(home: Path, cases: int) -> None:
    """A village home with `cases` cases and as many problems (cached)."""
    stamp = home / ".complete"
    if stamp.exists():
        return
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    exe = [sys.executable, "-m", "villagebook", "--home", str(home), "--lang", "en"]
    start = time.perf_counter()
    subprocess.run([*exe, "init", "--role", "village", "--unit", "320117101201", "--name",
                    "九里埂村", "--parent", "320117101000"], check=True, capture_output=True)
    subprocess.run([*exe, "demo", "--cases", str(cases), "--problems", str(cases)],
                   check=True, capture_output=True)
    print(f"home    built {cases:,} cases + {cases:,} problems in "
          f"{time.perf_counter() - start:.0f} s")
    stamp.touch()


def launch(program: str, *args: str) -> tuple[float, str]:
    """Seconds from spawning a Python process until it printed, and what it printed."""
    env = {**os.environ, "VILLAGEBOOK_NOW": NOW, "PYTHONIOENCODING": "utf-8"}
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", program, *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    first = proc.stdout.split()
    return float(first[0]) - start if program is not TOUR else 0.0, proc.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    options = parser.parse_args(argv)
    home = HERE / "out" / f"app-{options.cases}"
    if options.rebuild:
        (home / ".complete").unlink(missing_ok=True)
    build_home(home, options.cases)

    launch(BARE)  # warm the disk cache for both, so the order does not matter
    launch(VILLAGEBOOK, str(home))
    bare, ours = [], []
    for _ in range(options.runs):
        bare.append(launch(BARE)[0])
        ours.append(launch(VILLAGEBOOK, str(home))[0])
    bare_s, ours_s = statistics.median(bare), statistics.median(ours)
    print(f"start   bare Textual app (Header, Static, Footer) shown: median {bare_s:.3f} s")
    print(f"start   VillageBook dashboard with figures ({options.cases:,} cases): "
          f"median {ours_s:.3f} s  ({ours_s / bare_s:.2f}× the bare app; target ≤ 1.5×)")

    record("launch → dashboard settled (headless)", ours_s * 1000, "ms", target=1.5,
           baseline=bare_s * 1000, baseline_label="bare Textual app")
    _, out = launch(TOUR, str(home))
    tour = json.loads(out.strip().splitlines()[-1])
    cases = tour.pop("cases")
    peak_mib = tour.pop("app peak RSS (VmHWM) after the tour")
    for step, ms in tour.items():
        bound = 150 if step.startswith("open the") else 100
        print(f"list    {step} ({cases:,} records): {ms:.0f} ms (target ≤ {bound} ms)")
        record(step, ms, "ms", target=bound)
    print(f"memory  peak RSS (VmHWM) after dashboard, lists, a detail: {peak_mib:.0f} MiB "
          "(target ≤ 80 MB)")
    record(f"app peak RSS ({cases:,} records)", peak_mib * 2**20 / 1e6, "MB", target=80)


if __name__ == "__main__":
    main()
