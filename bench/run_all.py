"""`make bench`: run every benchmark in this folder, one after the other.

Each benchmark prints its own figures and ratios against a baseline measured in
the same run; nothing here asserts a timing. `bench_search.py` (synthetic
corpus) is covered by `bench_foundation.py` (real demo data) and is left for
focused runs. `bench_bundle_files.py` runs with 200 MB of files here; `--mb 1024` for
the full 1 GB of issue 10.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"run_all.py", "bench_search.py"}


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        if script.name in SKIP:
            continue
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)])
        print(f"=== {script.name}: exit {code}, {time.perf_counter() - start:.0f} s ===",
              flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
