"""Benchmark villagebook.store.search_index against a brute-force substring scan.

    python bench/bench_search.py                # 100k cases + 100k problems
    python bench/bench_search.py --docs 20000   # 20k of each, for a quick look

Builds a deterministic synthetic corpus of Chinese village reporting, indexes it into a
fresh SQLite file (default connection settings, one transaction), then times
``search(limit=20)`` per query class (1-, 2-, 3-, 4-character Chinese, an English word)
next to ``instr()`` over every row of ``search_doc`` in the same run. A last "stress" class
shows the known worst case: three ideographs whose two bigrams are common but never
adjacent.

Another corpus plugs in through ``CORPORA``: any function
``(cases, problems, seed) -> list[SearchDoc]``. Queries are drawn from the documents
themselves, so a corpus needs no vocabulary of its own.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from villagebook.store.search_index import (
    RANK_POOL,
    SearchDoc,
    ensure_search_schema,
    index_documents,
    normalize,
    search,
)

# --- the synthetic corpus ----------------------------------------------------------------


def _vocab(words: str) -> tuple[str, ...]:
    return tuple(words.split())


TOWNS = _vocab(
    "永阳街道 柘塘街道 东屏街道 石湫街道 洪蓝街道 白马镇 晶桥镇 和凤镇 城关镇 青山镇 河口乡"
)
VILLAGES = _vocab("""
    幸庄 东门 乌山 骆山 芝山 长乐 金湖 爱廉 群力 九塘 横山 明觉 向阳 塘西 仓口 白马
    李巷 芮家 枫香岭 云鹤 水晶 张家 诸家 沙塘 秦淮 中山 宁溧 石头寨 曹家桥 朱家边 傅家边
    杨柳 红星 光明 前进 团结 胜利 和平 新华 建设""")
TOPICS = _vocab("""
    营商环境 流程再造 垃圾分类 养老服务 道路硬化 人居环境整治 矛盾纠纷调解 农房翻建审批
    集体经济增收 河长制巡河 网格化治理 乡村旅游 企业开办 政务服务下沉 留守儿童关爱 应急管理
    农产品电商 土地流转 安全生产检查 就业帮扶 新时代文明实践 智慧停车 雨污分流 老旧小区改造
    村级财务公开 信访积案化解 厕所革命 移风易俗 基层党建 便民服务 医疗保障 防汛抗旱""")
METHODS = _vocab("""
    “积分制”管理 “一站式”服务 “网格+”模式 “码上办”平台 “红色物业” “村民议事会”
    “周末门诊” “帮办代办” “首问负责” “一件事一次办” “党员责任区” “共享菜园” “数字乡村”
    “邻里互助” “最多跑一次”""")
MEASURES = _vocab("""
    成立工作专班，明确责任人和时间节点 制定积分兑换办法，每月公示积分排名
    依托网格员上门走访，建立问题清单 将审批事项下沉至便民服务中心 引入第三方专业力量参与运营
    开发线上小程序，群众手机即可办理 召开村民代表大会，充分听取群众意见 整合部门资源，推行并联审批
    设立党员先锋岗，开展结对帮扶 组织志愿者队伍，定期开展巡查 统一标准规范，实行台账化管理
    落实经费保障，纳入年度考核""")
RESULTS = _vocab("""
    群众满意度明显提升 办理时限压缩一半以上 累计服务群众三千余人次 村集体经济收入稳步增长
    矛盾纠纷就地化解率达到百分之九十 环境面貌焕然一新 形成可复制可推广的经验做法
    得到上级部门肯定并推广 群众获得感不断增强""")
PROBLEMS = _vocab("""
    资金缺口较大 群众参与度不高 部门协调不畅 专业人才缺乏 长效机制尚未建立 基础设施老化
    信息化水平偏低 政策宣传不到位 后续管护责任不清""")
ENGLISH = _vocab("APP WiFi Portal GDP PPP O2O WeChat Excel GIS 5G QR Online Service Smart Data")


def _place(rng: random.Random) -> str:
    return rng.choice(TOWNS) + rng.choice(VILLAGES) + rng.choice(("村", "社区"))


def _body(rng: random.Random, *, problem: bool) -> str:
    sentences = [f"{rng.randint(2016, 2024)}年以来，{_place(rng)}围绕{rng.choice(TOPICS)}工作"]
    sentences += rng.sample(MEASURES, rng.randint(4, 7))
    if rng.random() < 0.4:
        sentences.append(f"上线{rng.choice(ENGLISH)}功能，推动{rng.choice(TOPICS)}")
    sentences += rng.sample(PROBLEMS if problem else RESULTS, rng.randint(1, 2))
    if problem:
        sentences.append(f"建议下一步加强{rng.choice(TOPICS)}")
    return "，".join(sentences) + "。"


def _title(rng: random.Random, *, problem: bool) -> str:
    village = rng.choice(VILLAGES) + rng.choice(("村", "社区"))
    if problem:
        return f"{village}{rng.choice(TOPICS)}{rng.choice(PROBLEMS)}"
    return f"{village}{rng.choice(METHODS)}助推{rng.choice(TOPICS)}"


def synthetic_docs(cases: int, problems: int, seed: int) -> list[SearchDoc]:
    """Deterministic village-reporting text: titles ~8-20 chars, bodies ~100-200 chars."""
    rng = random.Random(seed)
    docs = []
    for kind, count in (("case", cases), ("problem", problems)):
        for _ in range(count):
            record_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            title = _title(rng, problem=kind == "problem")
            docs.append(SearchDoc(kind, record_id, title, _body(rng, problem=kind == "problem")))
    return docs


CorpusBuilder = Callable[[int, int, int], list[SearchDoc]]
CORPORA: dict[str, CorpusBuilder] = {"synthetic": synthetic_docs}

# --- queries drawn from the corpus -------------------------------------------------------

_IDEOGRAPHS = re.compile("[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile("[a-z]{2,}")


def _ideograph_runs(doc: SearchDoc) -> list[str]:
    return _IDEOGRAPHS.findall(normalize(f"{doc.title} {doc.body}"))


def _cjk_query(rng: random.Random, docs: Sequence[SearchDoc], length: int) -> str:
    """A run of ``length`` ideographs from a random document."""
    while True:
        runs = [run for run in _ideograph_runs(rng.choice(docs)) if len(run) >= length]
        if runs:
            run = rng.choice(runs)
            start = rng.randrange(len(run) - length + 1)
            return run[start : start + length]


def _word_query(rng: random.Random, docs: Sequence[SearchDoc]) -> str | None:
    """A Latin word from a random document; None when the corpus seems to have none."""
    for _ in range(10_000):
        doc = rng.choice(docs)
        words = _LATIN_WORD.findall(normalize(f"{doc.title} {doc.body}"))
        if words:
            return str(rng.choice(words))
    return None


def _stress_queries(rng: random.Random, docs: Sequence[SearchDoc], count: int) -> list[str]:
    """Three ideographs ABC with AB and BC among the commonest bigrams, ABC in no sample doc."""
    sample = [" ".join(_ideograph_runs(doc)) for doc in rng.sample(docs, min(len(docs), 3000))]
    bigrams = Counter(
        gram
        for text in sample
        for gram in {text[i : i + 2] for i in range(len(text) - 1)}
        if " " not in gram
    )
    common = [gram for gram, _ in bigrams.most_common(200)]
    chains = [
        first + second[1]
        for first in common
        for second in common
        if first[1] == second[0] and not any(first + second[1] in text for text in sample)
    ]
    return chains[:count]


def query_classes(docs: Sequence[SearchDoc], count: int, seed: int) -> dict[str, list[str]]:
    """Query lists per class, drawn from the documents."""
    rng = random.Random(seed + 1)
    classes = {
        f"{length}-char CJK": [_cjk_query(rng, docs, length) for _ in range(count)]
        for length in (1, 2, 3, 4)
    }
    words = [word for word in (_word_query(rng, docs) for _ in range(count)) if word]
    if words:
        classes["English word"] = words
    stress = _stress_queries(rng, docs, min(count, 30))
    if stress:
        classes["3-char stress"] = stress
    return classes


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    queries: int
    median_ms: float
    p95_ms: float
    median_hits: int
    scan_ms: float


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _time_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def brute_force_count(conn: sqlite3.Connection, query: str) -> int:
    """The baseline: every row scanned with character-based substring matching."""
    needle = normalize(query)
    (count,) = conn.execute(
        "SELECT count(*) FROM search_doc WHERE instr(norm_title, ?) > 0 OR instr(norm_body, ?) > 0",
        (needle, needle),
    ).fetchone()
    return int(count)


def measure(conn: sqlite3.Connection, name: str, queries: Sequence[str], scans: int) -> Row:
    """Time every query through the index and the first ``scans`` through the full scan."""
    timings = [_time_ms(partial(search, conn, query, limit=20)) for query in queries]
    scans_of = queries[:scans]
    scan_timings = [_time_ms(partial(brute_force_count, conn, query)) for query in scans_of]
    hits = [brute_force_count(conn, query) for query in scans_of]
    return Row(
        name,
        len(queries),
        statistics.median(timings),
        _percentile(timings, 0.95),
        int(statistics.median(hits)),
        statistics.median(scan_timings),
    )


def table_sizes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes used by the FTS5 shadow tables and by search_doc with its unique index."""
    sizes: Counter[str] = Counter()
    for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        if name.startswith("search_fts"):
            sizes["search_fts"] += size
        elif "search_doc" in name:
            sizes["search_doc"] += size
    return dict(sizes)


def build(path: Path, docs: Sequence[SearchDoc]) -> tuple[sqlite3.Connection, float]:
    """A fresh index of ``docs`` at ``path``, committed; returns it and the seconds taken."""
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    ensure_search_schema(conn)
    index_documents(conn, docs)
    conn.commit()
    return conn, time.perf_counter() - start


def print_table(rows: Sequence[Row], scans: int) -> None:
    print(
        f"{'query class':<14} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'hits (med)':>11}"
        f" {'scan ms':>8} {'speed-up':>9}"
    )
    for row in rows:
        print(
            f"{row.name:<14} {row.queries:>4} {row.median_ms:>10.2f} {row.p95_ms:>8.2f}"
            f" {row.median_hits:>11,} {row.scan_ms:>8.1f} {row.scan_ms / row.median_ms:>8.0f}x"
        )
    print(
        f"\nmedian/p95: search(limit=20), RANK_POOL={RANK_POOL}. scan: count(*) with instr()"
        f" over every search_doc row,\nmedian of the first {scans} queries of each class;"
        " hits: matching documents per query (from the scan)."
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark search_index against a full scan.")
    parser.add_argument("--docs", type=int, default=100_000, help="cases, and as many problems")
    parser.add_argument("--queries", type=int, default=200, help="queries per class")
    parser.add_argument("--scans", type=int, default=20, help="queries per class also scanned")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="synthetic")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    docs = CORPORA[args.corpus](args.docs, args.docs, args.seed)
    chars = sum(len(doc.title) + len(doc.body) for doc in docs) / len(docs)
    print(
        f"corpus  {len(docs):,} docs ({args.corpus}), {chars:.0f} characters per doc,"
        f" generated in {time.perf_counter() - start:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        conn, seconds = build(path, docs)
        sizes = table_sizes(conn)
        print(
            f"index   built in {seconds:.1f} s ({len(docs) / seconds:,.0f} docs/s);"
            f" file {path.stat().st_size / 2**20:.0f} MiB: search_fts"
            f" {sizes.get('search_fts', 0) / 2**20:.0f} MiB, search_doc"
            f" {sizes.get('search_doc', 0) / 2**20:.0f} MiB\n"
        )
        classes = query_classes(docs, args.queries, args.seed)
        rows = [measure(conn, name, queries, args.scans) for name, queries in classes.items()]
        conn.close()
    print_table(rows, args.scans)


if __name__ == "__main__":
    main()
