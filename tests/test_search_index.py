"""Searching cases and problems: a secretary types a few characters and finds the record.

Real SQLite files in tmp_path (in-memory databases for the property tests); the truth the
index is checked against is written out in plain Python below.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from villagebook.store.search_index import (
    RANK_POOL,
    SearchDoc,
    SearchHit,
    ensure_search_schema,
    index_documents,
    matching_ids_sql,
    normalize,
    remove_documents,
    search,
)

GARBAGE_CASE = SearchDoc(
    "case",
    "0b5c1a7e-0000-4000-8000-000000000001",
    "白马村垃圾分类“积分制”管理",
    "2021年起，白马村推行垃圾分类积分制，村民凭积分兑换日用品。上线 WeChat Portal 小程序。",
)
ROAD_PROBLEM = SearchDoc(
    "problem",
    "0b5c1a7e-0000-4000-8000-000000000002",
    "李巷村道路硬化资金缺口",
    "G312国道至李巷村的道路硬化工程资金不足，群众反映 report 多次。",
)
ELDER_CASE = SearchDoc(
    "case",
    "0b5c1a7e-0000-4000-8000-000000000003",
    "社区养老服务“邻里互助”",
    "石湫社区组织志愿者上门服务，覆盖独居老人 120 户。",
)
STORY = (GARBAGE_CASE, ROAD_PROBLEM, ELDER_CASE)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A real database file with the search tables and the three story records."""
    connection = sqlite3.connect(tmp_path / "village.db")
    ensure_search_schema(connection)
    index_documents(connection, STORY)
    connection.commit()
    yield connection
    connection.close()


def ids(hits: Sequence[SearchHit]) -> list[str]:
    return [hit.record_id[-1] for hit in hits]


# --- stories ---------------------------------------------------------------------------


def test_one_chinese_character_finds_every_record_holding_it(conn: sqlite3.Connection) -> None:
    assert sorted(ids(search(conn, "村"))) == ["1", "2"]
    assert ids(search(conn, "硬")) == ["2"]
    assert search(conn, "镇") == []


def test_two_characters_match_as_a_substring_only(conn: sqlite3.Connection) -> None:
    assert ids(search(conn, "道路")) == ["2"]
    assert ids(search(conn, "社区")) == ["3"]
    assert search(conn, "路道") == []


def test_three_characters_need_the_characters_side_by_side(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    # Both bigrams of 垃圾分 occur in the second record, never next to each other.
    index_documents(
        connection,
        [
            SearchDoc("case", "a", "垃圾分类", ""),
            SearchDoc("case", "b", "清运垃圾", "圾分两类：可回收与其他"),
        ],
    )
    assert ids(search(connection, "垃圾分")) == ["a"]
    assert sorted(ids(search(connection, "垃圾"))) == ["a", "b"]


def test_four_and_more_characters(conn: sqlite3.Connection) -> None:
    assert ids(search(conn, "垃圾分类")) == ["1"]
    assert ids(search(conn, "村民凭积分兑换日用品")) == ["1"]
    assert search(conn, "垃圾分类积分兑换") == []  # each half occurs, the whole does not


def test_english_matches_the_start_of_a_word_in_any_case(conn: sqlite3.Connection) -> None:
    assert ids(search(conn, "port")) == ["1"]  # Portal, not report
    assert ids(search(conn, "PORTAL")) == ["1"]
    assert ids(search(conn, "report")) == ["2"]
    assert search(conn, "ortal") == []
    assert ids(search(conn, "ＷｅＣｈａｔ")) == ["1"]  # full-width letters, NFKC


def test_digits_match_the_start_of_a_number(conn: sqlite3.Connection) -> None:
    assert ids(search(conn, "2021")) == ["1"]  # "2021年": the number ends at the ideograph
    assert ids(search(conn, "20")) == ["1"]
    assert search(conn, "021") == []
    assert ids(search(conn, "１２０")) == ["3"]


def test_mixed_terms_need_each_run_and_the_whole_term(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    index_documents(
        connection,
        [
            SearchDoc("problem", "a", "G312国道拓宽", ""),
            SearchDoc("problem", "b", "XG312国道", ""),  # g312 is not the start of a word
            SearchDoc("problem", "c", "G312 沿线", "国道"),  # runs apart
        ],
    )
    assert ids(search(connection, "g312国道")) == ["a"]
    assert sorted(ids(search(connection, "G312 国道"))) == ["a", "c"]


def test_every_term_must_match(conn: sqlite3.Connection) -> None:
    assert ids(search(conn, "村 道路")) == ["2"]
    assert ids(search(conn, "村　垃圾")) == ["1"]  # ideographic space separates terms
    assert search(conn, "村 养老") == []


def test_kind_filter(conn: sqlite3.Connection) -> None:
    assert ids(search(conn, "村", kind="case")) == ["1"]
    assert ids(search(conn, "村", kind="problem")) == ["2"]
    with pytest.raises(ValueError, match="kind"):
        search(conn, "村", kind="cases")


def test_kind_filter_reaches_old_records_behind_many_newer_ones(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    index_documents(connection, [SearchDoc("case", "old", "老案例", "村")])
    newer = (SearchDoc("problem", f"p{n}", "问题", "村") for n in range(RANK_POOL * 3))
    index_documents(connection, newer)
    assert [hit.record_id for hit in search(connection, "村", kind="case")] == ["old"]
    assert len(search(connection, "村", kind="problem", limit=7)) == 7
    assert search(connection, "村", limit=0) == []


def test_removed_records_are_forgotten_by_the_index_too(conn: sqlite3.Connection) -> None:
    remove_documents(conn, "case", [GARBAGE_CASE.record_id, "never-indexed"])
    assert ids(search(conn, "村")) == ["2"]
    assert search(conn, "port") == []
    assert fts_rowids(conn, "村") == docids(conn, "村")


def test_remove_respects_the_kind(conn: sqlite3.Connection) -> None:
    remove_documents(conn, "problem", [GARBAGE_CASE.record_id])
    assert ids(search(conn, "垃圾")) == ["1"]


def test_indexing_again_replaces_the_old_text(conn: sqlite3.Connection) -> None:
    edited = SearchDoc("case", GARBAGE_CASE.record_id, "白马村厕所革命", "改厕 300 户")
    index_documents(conn, [edited])
    assert search(conn, "垃圾") == []
    assert [hit.title for hit in search(conn, "厕所")] == ["白马村厕所革命"]
    assert sorted(ids(search(conn, "村"))) == ["1", "2"]
    assert fts_rowids(conn, "垃圾") == set()


def test_the_last_duplicate_in_one_call_wins(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    index_documents(
        connection, [SearchDoc("case", "a", "旧标题", ""), SearchDoc("case", "a", "新标题", "")]
    )
    assert [hit.title for hit in search(connection, "标题")] == ["新标题"]


def test_title_matches_rank_above_body_matches(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    index_documents(
        connection,
        [
            SearchDoc("case", "a", "集体经济", "养老 养老 养老 养老 养老 养老"),
            SearchDoc("case", "b", "社区养老", "社区食堂"),
            SearchDoc("case", "c", "养老服务", "养老服务中心"),
            SearchDoc("problem", "d", "纠纷调解", "养老"),
        ],
    )
    hits = search(connection, "养老")
    assert ids(hits)[:2] == ["c", "b"]  # more occurrences first inside the title tier
    assert set(ids(hits)[2:]) == {"a", "d"}
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert all(hit.score >= 1 for hit in hits[:2]) and all(hit.score < 1 for hit in hits[2:])


def test_equal_scores_come_back_in_record_id_order(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    twins = [SearchDoc("case", record_id, "河长制巡河", "") for record_id in "cab"]
    index_documents(connection, twins)
    assert ids(search(connection, "巡河")) == ["a", "b", "c"]


def test_a_title_match_among_hundreds_of_body_matches_still_comes_first(
    tmp_path: Path,
) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    # The title match is indexed first, so it is the oldest of RANK_POOL * 3 candidates.
    index_documents(connection, [SearchDoc("case", "title", "幸庄村", "")])
    index_documents(
        connection,
        (
            SearchDoc("case", f"body-{n:04d}", "会议纪要", "幸庄村村民")
            for n in range(RANK_POOL * 3)
        ),
    )
    hits = search(connection, "村", limit=5)
    assert len(hits) == 5
    assert hits[0].record_id == "title"
    assert len(search(connection, "村民", limit=1000)) == RANK_POOL * 3


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"村"',
        "村*",
        "^村",
        "(村)",
        "村 OR 道路",
        "村 AND",
        "NOT 村",
        "NEAR(村 道路)",
        "title:村",
        "{title}:村",
        "-村",
        "村'",
        "*",
        "§村",
        "'); DROP TABLE search_doc; --",
    ],
)
def test_query_syntax_is_literal_text(conn: sqlite3.Connection, query: str) -> None:
    hits = search(conn, query)
    assert {hit.record_id for hit in hits} == {
        doc.record_id for doc in STORY if matches(doc, query)
    }


def test_query_syntax_characters_in_records_are_found_literally(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    index_documents(
        connection,
        [
            SearchDoc("case", "a", "“村”字招牌", 'note: "NEAR" (a*b) -x'),
            SearchDoc("case", "b", "村", "nearby"),
        ],
    )
    assert ids(search(connection, "“村”")) == ["a"]
    assert ids(search(connection, '"near"')) == ["a"]
    assert sorted(ids(search(connection, "NEAR"))) == ["a", "b"]  # a word, prefix rule
    assert ids(search(connection, "(a*b)")) == ["a"]
    assert ids(search(connection, "note:")) == ["a"]


@pytest.mark.parametrize("query", ["", "   ", "\u3000", "\n\t"])
def test_a_blank_query_finds_nothing(conn: sqlite3.Connection, query: str) -> None:
    assert search(conn, query) == []


def test_rare_ideographs_beyond_the_basic_plane(tmp_path: Path) -> None:
    # CJK Extensions B and E appear in personal and place names; they are two UTF-16 code
    # units and newer than SQLite's Unicode 6.1 tables.
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    index_documents(connection, [SearchDoc("case", "a", "走访\U0002b820家", "\U00020000村")])
    assert ids(search(connection, "\U0002b820")) == ["a"]
    assert ids(search(connection, "访\U0002b820家")) == ["a"]
    assert ids(search(connection, "\U00020000村")) == ["a"]


def test_the_caller_owns_the_transaction(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    connection.commit()
    index_documents(connection, STORY)
    assert connection.in_transaction
    connection.rollback()
    assert search(connection, "村") == []


def test_schema_setup_is_idempotent_and_rebuilds_a_stale_index(
    conn: sqlite3.Connection,
) -> None:
    ensure_search_schema(conn)
    assert ids(search(conn, "道路硬化")) == ["2"]
    conn.execute("UPDATE search_meta SET value = 'older' WHERE key = 'token_format'")
    conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")  # lost index
    ensure_search_schema(conn)
    assert ids(search(conn, "道路硬化")) == ["2"]
    remove_documents(conn, "problem", [ROAD_PROBLEM.record_id])
    assert fts_rowids(conn, "道路") == set()


def test_unknown_kinds_are_refused_before_writing(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "t.db")
    ensure_search_schema(connection)
    with pytest.raises(ValueError, match="kind"):
        index_documents(connection, [GARBAGE_CASE, SearchDoc("village", "x", "村", "")])
    assert search(connection, "村") == []


# --- the truth, in plain Python ----------------------------------------------------------


def is_cjk(char: str) -> bool:
    # Enough for the test alphabets below, which use URO and Extension B/E ideographs.
    return "\u4e00" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0003ffff"


def is_word_char(char: str) -> bool:
    return char.isalnum() and not is_cjk(char)


def runs(text: str) -> list[tuple[str, str]]:
    """Maximal ("cjk" | "word", run) pairs; other characters only separate runs."""
    found: list[tuple[str, str]] = []
    previous = ""
    for char in text:
        kind = "cjk" if is_cjk(char) else "word" if is_word_char(char) else ""
        if kind and kind == previous:
            found[-1] = (kind, found[-1][1] + char)
        elif kind:
            found.append((kind, char))
        previous = kind
    return found


def words(text: str) -> list[str]:
    return [run for kind, run in runs(text) if kind == "word"]


def term_matches(term: str, fields: Sequence[str]) -> bool:
    field_words = [word for field in fields for word in words(field)]
    term_runs = runs(term)
    if term_runs == [("word", term)]:
        return any(word.startswith(term) for word in field_words)
    if not any(term in field for field in fields):
        return False
    return all(
        any(word.startswith(run) for word in field_words)
        for kind, run in term_runs
        if kind == "word"
    )


def matches(doc: SearchDoc, query: str) -> bool:
    terms = normalize(query).split()
    fields = (normalize(doc.title), normalize(doc.body))
    return bool(terms) and all(term_matches(term, fields) for term in terms)


def title_tier(doc: SearchDoc, query: str) -> int:
    terms = dict.fromkeys(normalize(query).split())
    return sum(term_matches(term, [normalize(doc.title)]) for term in terms)


def fts_rowids(connection: sqlite3.Connection, token: str) -> set[int]:
    """Rows the FTS index itself still holds for a plain token."""
    rows = connection.execute(
        "SELECT rowid FROM search_fts WHERE search_fts MATCH ?", (f'"{token}"',)
    )
    return {row[0] for row in rows}


def docids(connection: sqlite3.Connection, text: str) -> set[int]:
    rows = connection.execute(
        "SELECT docid FROM search_doc WHERE instr(norm_title || ' ' || norm_body, ?) > 0",
        (text,),
    )
    return {row[0] for row in rows}


# --- properties ----------------------------------------------------------------------------

PIECES = (
    *"村社区道路镇",
    "\U0002b820",
    "port",
    "Portal",
    "report",
    "G312",
    "2021",
    "７",
    "ab",
    " ",
    "，",
    "-",
    "*",
    '"',
    "(",
)
texts = st.lists(st.sampled_from(PIECES), max_size=10).map("".join)
documents = st.lists(
    st.tuples(st.sampled_from(("case", "problem")), texts, texts), min_size=1, max_size=8
).map(
    lambda rows: [
        SearchDoc(kind, f"id-{number}", title, body)
        for number, (kind, title, body) in enumerate(rows)
    ]
)


@st.composite
def corpus_and_queries(draw: st.DrawFn) -> tuple[list[SearchDoc], list[str]]:
    docs = draw(documents)
    queries = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            doc = draw(st.sampled_from(docs))
            text = draw(st.sampled_from((doc.title, doc.body)))
            start = draw(st.integers(0, len(text)))
            queries.append(text[start : draw(st.integers(start, len(text)))])
        else:
            queries.append(draw(texts))
    return docs, queries


def memory_index(docs: Sequence[SearchDoc]) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    ensure_search_schema(connection)
    index_documents(connection, docs)
    return connection


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus_and_queries(), st.sampled_from((None, "case", "problem")))
def test_search_returns_exactly_the_matching_records(
    case: tuple[list[SearchDoc], list[str]], kind: str | None
) -> None:
    docs, queries = case
    connection = memory_index(docs)
    for query in queries:
        hits = search(connection, query, kind=kind, limit=10_000)
        expected = {
            doc.record_id for doc in docs if matches(doc, query) and kind in (None, doc.kind)
        }
        assert {hit.record_id for hit in hits} == expected, query
        assert len(hits) == len(expected)
        by_id = {doc.record_id: doc for doc in docs}
        tiers = [title_tier(by_id[hit.record_id], query) for hit in hits]
        assert tiers == sorted(tiers, reverse=True), query


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus_and_queries(), st.sampled_from(("case", "problem")))
def test_the_list_filter_holds_exactly_the_matching_records(
    case: tuple[list[SearchDoc], list[str]], kind: str
) -> None:
    # What a list filtered by a search shows: every match, however many (issue 19).
    docs, queries = case
    connection = memory_index(docs)
    for query in queries:
        expected = {doc.record_id for doc in docs if matches(doc, query) and doc.kind == kind}
        matching = matching_ids_sql(query, kind)
        if matching is None:
            assert not normalize(query).split()
            continue
        found = [row[0] for row in connection.execute(*matching)]
        assert len(found) == len(set(found))
        assert set(found) == expected, query


@settings(max_examples=100, deadline=None)
@given(documents, documents, st.data())
def test_replacing_and_removing_keeps_the_index_exact(
    first: list[SearchDoc], second: list[SearchDoc], data: st.DataObject
) -> None:
    connection = memory_index(first)
    index_documents(connection, second)  # the same ids again: edits (or the other kind)
    final = {(doc.kind, doc.record_id): doc for doc in [*first, *second]}
    gone = data.draw(st.sets(st.sampled_from(sorted(final))))
    for kind, record_id in gone:
        remove_documents(connection, kind, [record_id])
        del final[kind, record_id]
    for piece in ("村", "社区", "道路镇", "port", "g312", "2021"):
        hits = search(connection, piece, limit=10_000)
        assert {(hit.kind, hit.record_id) for hit in hits} == {
            key for key, doc in final.items() if matches(doc, piece)
        }
        if is_cjk(piece[0]) and len(piece) <= 2:
            assert fts_rowids(connection, piece) == docids(connection, piece)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_query_text_is_safe(query: str) -> None:
    connection = memory_index(STORY)
    hits = search(connection, query)
    assert all(matches_loosely(hit, query) for hit in hits)


def matches_loosely(hit: SearchHit, query: str) -> bool:
    # For arbitrary Unicode only the substring part of the truth is independent of the
    # ideograph ranges; every hit must at least contain each term somewhere.
    doc = next(doc for doc in STORY if doc.record_id == hit.record_id)
    text = normalize(doc.title) + "\n" + normalize(doc.body)
    return all(term in text for term in normalize(query).split())


# Full-width punctuation takes normalize()'s shortcut; combining marks after it (＝ + U+0338
# composes to ≠) are where a shortcut could go wrong.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("，：；（）！？％～．／＋－＝=\u0338\u0301Ａ村ß"), st.characters()
    )
)


@given(tricky_text)
def test_normalize_is_nfkc_then_casefold(text: str) -> None:
    assert normalize(text) == unicodedata.normalize("NFKC", text).casefold()


@given(tricky_text)
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)
