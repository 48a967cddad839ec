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
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
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
import sys, time
from pathlib import Path
from villagebook.screens.app import make_app

async def wait_rows(pilot, done):
    while not done():
        await pilot.pause(0.005)

async def tour(pilot):
    app = pilot.app
    await wait_rows(pilot, lambda: getattr(app.screen, "figures", None) is not None)
    figures = []
    for key in ("f3", "f4"):
        start = time.perf_counter()
        await pilot.press(key)
        await wait_rows(pilot, lambda: getattr(app.screen.query_one("#rows"), "page", None)
                        is not None)
        opened = time.perf_counter() - start
        table = app.screen.query_one("#rows")
        start = time.perf_counter()
        await pilot.press("end")
        await wait_rows(pilot, lambda: not table.page.more_after)
        ended = time.perf_counter() - start
        await pilot.press("up")
        await wait_rows(pilot, lambda: table.cursor_row < table.row_count - 1)
        figures += [opened, ended, table.total]
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    peak = next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith("VmHWM:")), 0)
    print(*figures, peak, flush=True)
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
          f"median {ours_s:.3f} s  ({ours_s / bare_s:.2f}× the bare app; target ≤ 2×)")

    _, out = launch(TOUR, str(home))
    values = out.split()
    c_open, c_end, c_total, p_open, p_end, p_total = (float(v) for v in values[:6])
    peak_mib = int(values[6]) / 1024
    print(f"list    case list opened ({int(c_total):,} cases) in {c_open * 1000:.0f} ms; "
          f"End → last page in {c_end * 1000:.0f} ms")
    print(f"list    problem ledger opened ({int(p_total):,} problems) in "
          f"{p_open * 1000:.0f} ms; End → last page in {p_end * 1000:.0f} ms")
    print(f"memory  peak RSS (VmHWM) after dashboard, both lists and both ends: "
          f"{peak_mib:.0f} MiB (target ≤ 150 MB)")


if __name__ == "__main__":
    main()
