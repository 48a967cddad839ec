"""One line per figure, for `run_all.py`'s closing table.

A benchmark calls `record(...)` for each figure the issue's table asks for; when
`VB_BENCH_FIGURES` names a file (run_all sets it, with `VB_BENCH_PROFILE`), the figure
is appended to it as JSON. Run alone, a benchmark prints its own lines as before.
"""

from __future__ import annotations

import json
import os


def record(step: str, value: float, unit: str, *, target: float,
           baseline: float | None = None, baseline_label: str = "") -> None:
    """A figure; with a `baseline` (same unit, same run) `target` is a ratio, else a bound."""
    path = os.environ.get("VB_BENCH_FIGURES")
    if not path:
        return
    line = {"profile": os.environ.get("VB_BENCH_PROFILE", "as is"), "step": step,
            "value": value, "unit": unit, "baseline": baseline,
            "baseline_label": baseline_label, "target": target}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
