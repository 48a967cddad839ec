"""Benchmark sync: export + sign, and merge, of N change records (default 100k).

    python bench/bench_sync.py                  # 100k change records
    python bench/bench_sync.py --changes 20000  # a quick look
    python bench/bench_sync.py --million        # also 1M, to show growth is linear

Figures and ratios against baselines measured in the same run; nothing asserted:
- export + sign of a full bundle (village -> township), change records per second;
- merge into an empty township next to two raw `executemany` baselines into an empty
  database with the same settings: the bundle's change records, one row each (the
  issue's "same rows", target <= 3x), and the fewer, packed change-set rows the store
  keeps them in (a stricter floor: the bytes a merge must write at the least);
  merge and raw inserts take turns, five runs each, and each run's ratio compares runs
  made moments apart (the headline is the median of those ratios);
- what the search index alone costs: the merged search documents indexed into an empty
  database, the share of the merge that keeps search up to date;
- re-merge of the same bundle (target <= 0.3x of the first merge), and the merge of a
  new bundle whose records are all held already (the idempotent path in full);
- peak memory of a merge in a fresh subprocess (ru_maxrss, and tracemalloc's peak
  of Python allocations), target <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import record

from villagebook.domain.enums import Role
from villagebook.services.records import bulk_create
from villagebook.store import db, search_index
from villagebook.store.changelog import iter_changes
from villagebook.store.node import Store
from villagebook.sync.export import export_bundle
from villagebook.sync.identity import load_key_file, set_up_node
from villagebook.sync.merge import merge_file
from villagebook.sync.trust import trust_key

VILLAGE = ("320117100201", "白马村", "320117100000")
TOWNSHIP = ("320117100000", "白马镇", "320117000000")
FIELDS_PER_CASE = 10


def _case(index: int) -> tuple[str, str, dict[str, object]]:
    record_id = f"0190{index:08x}-0000-7000-8000-{index:012x}"
    return record_id, VILLAGE[0], {
        "unit_code": VILLAGE[0], "title": f"白马村第{index}号创新案例：网格化服务",
        "lead_person": "王芳", "contact": f"139{index:08d}", "start_date": "2025-03-01",
        "direction": "process", "aspects": ["process", "mode"],
        "measures": "建立村民议事会，推行一窗受理、一次办结。" * 2,
        "results": f"办理时限由7天缩短到{index % 5 + 1}天，服务群众{index % 900 + 100}户。",
        "status": "draft",
    }


def _nodes(root: Path, changes: int) -> tuple[Path, Path]:
    village = Store(root / "village")
    set_up_node(village, Role.VILLAGE, *VILLAGE)
    township = Store(root / "township")
    set_up_node(township, Role.TOWNSHIP, *TOWNSHIP)
    # Key files as `keys trust` reads them: with the recipient, so bundles are encrypted.
    for store, other, unit in ((township, village, VILLAGE[0]),
                               (village, township, TOWNSHIP[0])):
        public, binding = load_key_file(other.home)
        trust_key(store, public, unit, binding)
    bulk_create(village, "case", (_case(i) for i in range(changes // FIELDS_PER_CASE)))
    village.close()
    township.close()
    return root / "village", root / "township"


RUNS = 5
_RECORD_TABLE = ("CREATE TABLE change_record (change_id TEXT, entity TEXT, record_id TEXT, "
                 "field TEXT, value TEXT, hlc INTEGER, device_id TEXT, unit TEXT, "
                 "replaces TEXT)")


@dataclass
class _Raw:
    """The rows of the two raw baselines, read from the village once."""

    sets: list[Any]
    records: list[Any]

    @classmethod
    def read(cls, village: Path) -> _Raw:
        with Store(village) as store:
            sets = store.conn.execute("SELECT set_id, entity, record_id, hlc, device_id, unit, "
                                      "fields, replaces FROM change_set").fetchall()
            records = [(c.change_id, c.entity, c.record_id, c.field, c.value, c.hlc,
                        c.device_id, c.unit, json.dumps(c.replaces))
                       for _, c in iter_changes(store.conn)]
        return cls(sets, records)

    def insert_sets(self, target: Path) -> float:
        """Time to insert the packed change-set rows into an empty database."""
        return _raw_insert(target, None, "INSERT INTO change_set (set_id, entity, record_id, "
                           "hlc, device_id, unit, fields, replaces) VALUES (?, ?, ?, ?, ?, ?, "
                           "?, ?)", self.sets)

    def insert_records(self, target: Path) -> float:
        """Time to insert the change records, one row each, into an empty database."""
        return _raw_insert(target, _RECORD_TABLE, "INSERT INTO change_record VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?)", self.records)


def _raw_insert(target: Path, table: str | None, sql: str, rows: list[Any]) -> float:
    return _timed_write(target, lambda conn: conn.executemany(sql, rows), setup=table)


def _timed_write(target: Path, write: Callable[[sqlite3.Connection], object],
                 setup: str | None = None) -> float:
    """Time one write transaction into an empty database with a merge's settings."""
    conn = db.connect(target)
    conn.execute(f"PRAGMA cache_size = -{db.BULK_CACHE_KIB}")  # the page cache a merge gets
    if setup:
        conn.execute(setup)
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    write(conn)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _written_rows(merged: Path, empty: Path) -> list[tuple[str, list[Any]]]:
    """(insert statement, rows) for every row the merge wrote: each plain table that grew,
    and the search index's token rows (made here, outside any timing)."""
    found: list[tuple[str, list[Any]]] = []
    with Store(merged) as done, Store(empty) as before:
        names = [name for (name,) in done.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
            "'CREATE VIRTUAL%' AND name NOT LIKE 'search_fts%' AND name NOT LIKE 'sqlite_%'")]
        for name in names:
            rows = done.conn.execute(f"SELECT * FROM {name}").fetchall()
            (had,) = before.conn.execute(f"SELECT count(*) FROM {name}").fetchone()
            if rows and len(rows) > had:
                marks = ", ".join("?" * len(rows[0]))
                found.append((f"INSERT OR REPLACE INTO {name} VALUES ({marks})", rows))
        tokens = [(docid, search_index._doc_tokens(kind, title, body))
                  for docid, kind, title, body in done.conn.execute(
                      "SELECT docid, kind, norm_title, norm_body FROM search_doc")]
    found.append(("INSERT INTO search_fts (rowid, tokens) VALUES (?, ?)", tokens))
    return found


def _insert_written(empty: Path, target: Path, written: list[tuple[str, list[Any]]]) -> float:
    """Time to executemany every written row into a copy of the empty node's database."""
    shutil.copyfile(empty / "villagebook.db", target)

    def write(conn: sqlite3.Connection) -> None:
        for sql, rows in written:
            conn.executemany(sql, rows)

    return _timed_write(target, write)


def _search_docs(home: Path) -> list[search_index.SearchDoc]:
    """A merged node's search documents, as the index was given them."""
    with Store(home) as store:
        return [search_index.SearchDoc(kind, record_id, title, body) for kind, record_id, title,
                body in store.conn.execute("SELECT kind, record_id, title, norm_body "
                                           "FROM search_doc ORDER BY docid")]


def _timed_merge(home: Path, bundle: Path) -> tuple[float, str]:
    with Store(home) as store:
        start = time.perf_counter()
        result = merge_file(store, bundle)
        return time.perf_counter() - start, result.status


def child_memory(home: str, bundle: str, traced: str) -> None:
    """Run in a fresh process: merge, report peak memory as JSON.

    tracemalloc's own bookkeeping inflates the RSS, so each figure has its own run.
    """
    if traced == "1":
        tracemalloc.start()
    with Store(Path(home)) as store:
        status = merge_file(store, Path(bundle)).status
    peak = tracemalloc.get_traced_memory()[1] if traced == "1" else 0
    rss_kb = _peak_rss_kb()
    print(json.dumps({"status": status, "tracemalloc_mb": peak / 2**20,
                      "maxrss_mb": rss_kb / 1024}))


def _peak_rss_kb() -> int:
    # Linux's ru_maxrss of an exec'd child can include its forking parent's size;
    # VmHWM is this process's own high-water mark.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _memory(home: Path, bundle: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    for traced in ("0", "1"):
        copy = home.with_name(f"{home.name}-{traced}")
        shutil.copytree(home, copy)
        out = subprocess.run([sys.executable, __file__, "--child-memory", str(copy),
                              str(bundle), traced], capture_output=True, text=True,
                             check=True).stdout
        found = json.loads(out.strip().splitlines()[-1])
        key = "tracemalloc_mb" if traced == "1" else "maxrss_mb"
        figures[key] = found[key]
    return figures


def run(changes: int, workdir: Path) -> dict[str, float]:
    """One size: every figure, printed and returned."""
    root = workdir / f"n{changes}"
    start = time.perf_counter()
    village, township = _nodes(root, changes)
    print(f"\n{changes:,} change records ({changes // FIELDS_PER_CASE:,} cases): "
          f"set-up {time.perf_counter() - start:.1f} s")
    spare = root / "township-copy"
    shutil.copytree(township, spare)
    with Store(village) as store:
        start = time.perf_counter()
        result = export_bundle(store, TOWNSHIP[0], root / "stick", full=True)
        export_s = time.perf_counter() - start
    size_mb = result.path.stat().st_size / 2**20
    # Merge and the raw inserts take turns, so that each ratio compares runs made
    # moments apart on a machine whose speed drifts; the median of the runs is kept.
    raw = _Raw.read(village)
    merges, raw_sets, raw_records, indexes, raw_written = [], [], [], [], []
    docs: list[search_index.SearchDoc] = []
    written: list[tuple[str, list[Any]]] = []
    for turn in range(RUNS):
        last = turn == RUNS - 1
        home = township if last else root / f"township-run{turn}"
        if not last:
            shutil.copytree(spare, home)
        merge_one, status = _timed_merge(home, result.path)
        merges.append(merge_one)
        raw_records.append(raw.insert_records(root / f"records-{turn}.db"))
        raw_sets.append(raw.insert_sets(root / f"sets-{turn}.db"))
        docs = docs or _search_docs(home)  # the same documents after every merge
        written = written or _written_rows(home, spare)
        raw_written.append(_insert_written(spare, root / f"written-{turn}.db", written))
        indexes.append(_timed_write(root / f"index-{turn}.db",
                                    partial(search_index.index_documents, docs=docs)))
        if not last:
            shutil.rmtree(home)
    merge_s, raw_s, raw_records_s, index_s = map(statistics.median,
                                                 (merges, raw_sets, raw_records, indexes))
    records = len(raw.records)
    ratios = [m / r for m, r in zip(merges, raw_records, strict=True)]
    ratio = statistics.median(ratios)
    written_ratio = statistics.median(m / w for m, w in zip(merges, raw_written, strict=True))
    written_rows = sum(len(rows) for _, rows in written)
    index_share = statistics.median(i / m for i, m in zip(indexes, merges, strict=True))
    remerge_s, again = _timed_merge(township, result.path)
    with Store(village) as store:
        same = export_bundle(store, TOWNSHIP[0], root / "stick2", full=True)
    duplicate_s, dup_status = _timed_merge(township, same.path)
    memory = _memory(spare, result.path)
    print(f"  export + sign: {export_s:6.2f} s  {result.changes / export_s:10,.0f} changes/s  "
          f"bundle {size_mb:.1f} MB")
    print(f"  merge (empty): {merge_s:6.2f} s  {result.changes / merge_s:10,.0f} changes/s  "
          f"[{status}]")
    print(f"  raw executemany of the {records:,} change records, one row each: "
          f"{raw_records_s:6.2f} s -> merge/raw = {ratio:.2f}x (target <= 3x; median of the "
          f"per-run ratios {', '.join(f'{one:.2f}x' for one in ratios)}; ratio of the medians "
          f"{merge_s / raw_records_s:.2f}x)")
    print(f"  raw executemany of every row the merge writes ({written_rows:,} rows: change "
          f"sets, record rows, search rows): {statistics.median(raw_written):6.2f} s -> "
          f"merge/raw = {written_ratio:.2f}x (target <= 1.5x)")
    record("merge of the change records vs raw executemany of every row it writes",
           merge_s, "s", target=1.5, baseline=merge_s / written_ratio,
           baseline_label="raw executemany, every written row")
    record("merge of the change records vs raw executemany of the record rows alone",
           merge_s, "s", target=3, baseline=merge_s / ratio,
           baseline_label="raw executemany, change records")
    print(f"  raw executemany of the {result.sets:,} packed change-set rows the store keeps: "
          f"{raw_s:6.2f} s -> merge/raw = {merge_s / raw_s:.2f}x (the floor: the merge also "
          f"writes the record tables and the search index)")
    print(f"  of which search indexing: the {len(docs):,} search documents indexed into an "
          f"empty database take {index_s:6.2f} s, {index_share:.0%} of a merge (median of "
          f"the per-run shares)")
    print(f"  re-merge: {remerge_s:6.3f} s [{again}] -> re-merge/merge = "
          f"{remerge_s / merge_s:.3f}x (target <= 0.3x)")
    print(f"  merge of a new bundle carrying the same records (all already held): "
          f"{duplicate_s:6.2f} s [{dup_status}] -> {duplicate_s / merge_s:.2f}x the first merge")
    print(f"  peak memory of a merge (fresh process): peak RSS {memory['maxrss_mb']:.0f} MB; "
          f"tracemalloc peak {memory['tracemalloc_mb']:.1f} MB in a second run "
          f"(target <= 150 MB)")
    shutil.rmtree(root, ignore_errors=True)
    return {"changes": result.changes, "export": export_s, "merge": merge_s, "raw": raw_s,
            "raw_records": raw_records_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="also run 1M change records")
    parser.add_argument("--child-memory", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_memory:
        child_memory(*options.child_memory)
        return
    with tempfile.TemporaryDirectory(prefix="vb-bench-sync-") as folder:
        figures = [run(options.changes, Path(folder))]
        if options.million:
            figures.append(run(1_000_000, Path(folder)))
    if len(figures) > 1:
        small, big = figures
        scale = big["changes"] / small["changes"]
        print(f"\nLinearity ({scale:.0f}x the records): "
              f"export {big['export'] / small['export']:.1f}x, "
              f"merge {big['merge'] / small['merge']:.1f}x, raw insert of the change records "
              f"{big['raw_records'] / small['raw_records']:.1f}x the time")


if __name__ == "__main__":
    main()
