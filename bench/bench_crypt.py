"""Benchmark the age layer: export and merge of the same 100k-record bundle,
encrypted and plain, in the same run (target: encryption adds <= 10% to each), and
the peak memory of an encrypted merge next to a plain one (target: within 10 MB).

    python bench/bench_crypt.py                  # 100k change records
    python bench/bench_crypt.py --changes 20000  # a quick look

Exports and merges take turns (plain, encrypted), three runs each, and the median
of each is kept; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import TOWNSHIP, _nodes, _timed_merge

from villagebook.store.node import Store
from villagebook.sync.export import export_bundle
from villagebook.sync.opening import set_policy

RUNS = 3
BENCH_SYNC = Path(__file__).resolve().parent / "bench_sync.py"


def _export(village: Path, stick: Path, plain: bool) -> tuple[float, Path]:
    with Store(village) as store:
        start = time.perf_counter()
        result = export_bundle(store, TOWNSHIP[0], stick, full=True, plain=plain)
        return time.perf_counter() - start, result.path


def _merge(spare: Path, copy: Path, bundle: Path) -> float:
    shutil.copytree(spare, copy)
    seconds, status = _timed_merge(copy, bundle)
    assert status == "merged", status
    shutil.rmtree(copy)
    return seconds


def _peak_rss(spare: Path, copy: Path, bundle: Path) -> float:
    shutil.copytree(spare, copy)
    out = subprocess.run([sys.executable, str(BENCH_SYNC), "--child-memory", str(copy),
                          str(bundle), "0"], capture_output=True, text=True, check=True).stdout
    shutil.rmtree(copy)
    return float(json.loads(out.strip().splitlines()[-1])["maxrss_mb"])


def run(changes: int, workdir: Path) -> None:
    """Every figure for one size, printed."""
    root = workdir / f"n{changes}"
    village, township = _nodes(root, changes)
    spare = root / "township-spare"
    shutil.copytree(township, spare)
    with Store(spare) as store:
        set_policy(store, "never")  # the plain bundle is merged, not refused at the end
    exports: dict[bool, list[float]] = {True: [], False: []}
    bundles: dict[bool, Path] = {}
    for turn in range(RUNS):
        for plain in (True, False):
            seconds, bundles[plain] = _export(village, root / f"stick-{turn}-{plain}", plain)
            exports[plain].append(seconds)
    merges: dict[bool, list[float]] = {True: [], False: []}
    for turn in range(RUNS):
        for plain in (True, False):
            merges[plain].append(_merge(spare, root / f"t-{turn}-{plain}", bundles[plain]))
    rss = {plain: _peak_rss(spare, root / f"rss-{plain}", bundles[plain])
           for plain in (True, False)}
    size = {plain: bundles[plain].stat().st_size / 2**20 for plain in (True, False)}
    print(f"\n{changes:,} change records, full bundle: plain {size[True]:.1f} MB, "
          f"encrypted {size[False]:.1f} MB")
    for name, figures in (("export", exports), ("merge", merges)):
        plain_s, sealed_s = statistics.median(figures[True]), statistics.median(figures[False])
        print(f"  {name}: plain {plain_s:6.2f} s, encrypted {sealed_s:6.2f} s -> "
              f"+{(sealed_s / plain_s - 1):.1%} (target <= 10%; runs plain "
              f"{', '.join(f'{x:.2f}' for x in figures[True])}, encrypted "
              f"{', '.join(f'{x:.2f}' for x in figures[False])})")
    print(f"  peak RSS of a merge (fresh process): plain {rss[True]:.0f} MB, encrypted "
          f"{rss[False]:.0f} MB -> {rss[False] - rss[True]:+.0f} MB (target within 10 MB)")
    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vb-bench-crypt-") as folder:
        run(options.changes, Path(folder))


if __name__ == "__main__":
    main()
