"""Issue 2's benchmark: demo generation and search at 100k cases + 100k ledger entries.

Builds a real village home (the same code path as `villagebook demo`), timing
cases and problems separately, then times `search()` for 1-, 2-, 3- and
4-character Chinese queries and an English word drawn from the stored records,
next to a brute-force full scan of the same rows measured in the same run.

    python bench/bench_foundation.py [--cases N] [--problems N] [--queries N]

Figures are printed, never asserted. The home is rebuilt every run (its build
time is one of the figures).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import measure, print_table, query_classes
from figures import record

from villagebook.domain.enums import Role
from villagebook.services.demo import generate
from villagebook.store.node import Store
from villagebook.store.search_index import SearchDoc
from villagebook.sync.identity import set_up_node


def build_home(home: Path, cases: int, problems: int) -> Store:
    """A village node filled by the demo generator, printing how long each part took."""
    store = Store(home)
    set_up_node(store, Role.VILLAGE, "320117100201", "白马村", "320117100000")
    start = time.perf_counter()
    generate(store, cases=cases, problems=0, seed=1)
    case_seconds = time.perf_counter() - start
    start = time.perf_counter()
    summary = generate(store, cases=0, problems=problems, seed=2)
    problem_seconds = time.perf_counter() - start
    size = (home / "villagebook.db").stat().st_size / 2**20
    print(f"demo    {cases:,} cases in {case_seconds:.1f} s ({cases / case_seconds:,.0f}/s)")
    print(f"demo    {problems:,} problems with {summary.followups:,} follow-ups in "
          f"{problem_seconds:.1f} s ({problems / problem_seconds:,.0f}/s)")
    print(f"home    database {size:,.0f} MiB")
    return store


def stored_docs(store: Store) -> list[SearchDoc]:
    """The indexed documents, to draw realistic queries from."""
    rows = store.conn.execute("SELECT kind, record_id, norm_title, norm_body FROM search_doc")
    return [SearchDoc(kind, rid, title, body) for kind, rid, title, body in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--problems", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="queries per class")
    parser.add_argument("--scans", type=int, default=20, help="queries per class also scanned")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = build_home(Path(tmp) / "home", args.cases, args.problems)
        docs = stored_docs(store)
        classes = query_classes(docs, args.queries, seed=7)
        print()
        rows = [measure(store.conn, name, queries, args.scans)
                for name, queries in classes.items()]
        print_table(rows, args.scans)
        for row in rows:
            record(f"search {row.name}: median", row.median_ms, "ms", target=5,
                   baseline=row.scan_ms, baseline_label="full scan")
            record(f"search {row.name}: p95", row.p95_ms, "ms", target=10,
                   baseline=row.scan_ms, baseline_label="full scan")
        store.close()


if __name__ == "__main__":
    main()
