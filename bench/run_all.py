"""`make bench`: every benchmark, then ONE table of the issue-13 figures.

The figures of issue 13 (start-up, lists, case detail, search, merge, memory) are
measured twice: on the machine as it is, and pinned to one core (`taskset -c 0`, the
low-spec profile). Each benchmark measures its own baseline in the same run; the
closing table prints every figure with its baseline, ratio and target. Nothing here
asserts a timing. The other benchmarks (attachments, bundle files, encryption) run
once, as is, and print their own figures.

    python bench/run_all.py            # 100k cases + 100k ledger entries (the issue's size)
    python bench/run_all.py --quick    # 20k of each, issue-13 benchmarks only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILES = {"as is": [], "taskset -c 0": ["taskset", "-c", "0"]}
OTHERS = ("bench_attach.py", "bench_bundle_files.py", "bench_crypt.py")


def issue13_benches(size: int, quick: bool) -> list[list[str]]:
    """The benchmarks behind the table, with their size options."""
    queries = "50" if quick else "200"
    return [["bench_app.py", "--cases", str(size), "--runs", "3" if quick else "5"],
            ["bench_foundation.py", "--cases", str(size), "--problems", str(size),
             "--queries", queries],
            ["bench_sync.py", "--changes", str(size)]]


def run(script: list[str], prefix: list[str], env: dict[str, str]) -> int:
    label = " ".join([*prefix, *script])
    print(f"\n=== {label} ===", flush=True)
    start = time.perf_counter()
    code = subprocess.call([*prefix, sys.executable, str(HERE / script[0]), *script[1:]],
                           env=env)
    print(f"=== {label}: exit {code}, {time.perf_counter() - start:.0f} s ===", flush=True)
    return code


def verdict(line: dict[str, object]) -> tuple[str, str, str, str]:
    value, baseline, target = line["value"], line["baseline"], line["target"]
    assert isinstance(value, float | int) and isinstance(target, float | int)
    unit = str(line["unit"])
    shown = f"{value:,.1f} {unit}"
    if isinstance(baseline, float | int) and line["baseline_label"] != "full scan":
        ratio = value / baseline
        return (shown, f"{baseline:,.1f} {unit} ({line['baseline_label']})",
                f"{ratio:.2f}× ≤ {target}×", "ok" if ratio <= target else "MISS")
    base = (f"{baseline:,.1f} {unit} ({line['baseline_label']}, {baseline / value:,.0f}× slower)"
            if isinstance(baseline, float | int) else "—")
    return shown, base, f"≤ {target} {unit}", "ok" if value <= target else "MISS"


def print_table(lines: list[dict[str, object]]) -> None:
    """Every figure, both profiles side by side."""
    steps = list(dict.fromkeys(str(line["step"]) for line in lines))
    by = {(line["step"], line["profile"]): line for line in lines}
    print("\n| step | profile | figure | baseline (same run) | target | |")
    print("| --- | --- | --- | --- | --- | --- |")
    for step in steps:
        for profile in PROFILES:
            line = by.get((step, profile))
            if line is not None:
                print(f"| {step} | {profile} | {' | '.join(verdict(line))} |")
    misses = sum(verdict(line)[3] == "MISS" for line in lines)
    print(f"\n{len(lines)} figures, {misses} above target.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k records, table only")
    parser.add_argument("--size", type=int, help="cases (and ledger entries, change records)")
    options = parser.parse_args(argv)
    size = options.size or (20_000 if options.quick else 100_000)
    if shutil.which("taskset") is None:
        PROFILES.pop("taskset -c 0")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="vb-bench-") as folder:
        figures = Path(folder) / "figures.jsonl"
        for profile, prefix in PROFILES.items():
            env = {**os.environ, "VB_BENCH_FIGURES": str(figures), "VB_BENCH_PROFILE": profile}
            for script in issue13_benches(size, options.quick):
                failed += run(script, prefix, env) != 0
        if not options.quick:
            for name in OTHERS:
                failed += run([name], [], dict(os.environ)) != 0
        lines = [json.loads(text) for text in figures.read_text(encoding="utf-8").splitlines()]
    print(f"\n=== issue 13: {size:,} cases + {size:,} ledger entries "
          f"({os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M %Z')}) ===")
    print_table(lines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
