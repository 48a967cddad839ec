"""Full-text search over cases and problems: exact for Chinese, fast at 200k records.

Matching (defined on ``normalize(text)``: NFKC, then casefold)
-------------------------------------------------------------
* The query is split on whitespace into terms; a document matches when every term does.
  A blank query returns ``[]``. A document's text is its title and body; terms never hold
  whitespace, so none can match across the two.
* A *word* is a maximal run of letters or digits (``str.isalnum``) that are not CJK
  ideographs: ``"2021年"`` holds the word ``"2021"`` followed by ``"年"``.
* A term of CJK ideographs only (any length, from one) matches where it is a substring.
* A term that is one word matches when a word of the document begins with it:
  ``"port"`` matches ``"Portal"``, not ``"report"``.
* Any other term (``"G312国道"``, ``"covid-19"``, ``"“村”"``, ``"*"``) is split into CJK and
  word runs; each run must match as above and the whole term must be a substring.
  Punctuation is therefore literal text, never query syntax, and ``"村 OR 镇"`` is the
  three terms ``村``, ``or``, ``镇``.

Ranking
-------
Tier first (how many terms match in the title alone, so title matches always come before
body-only matches), then a BM25-like relevance (term counts, title occurrences weighted
``TITLE_WEIGHT``, damped by length), then ``(kind, record_id)``. ``SearchHit.score`` is
``tier + relevance``, relevance in ``[0, 1)``. Candidates come in stages (every term in the
title, some term in the title, anywhere), newest indexed first, at most
``max(limit, RANK_POOL)`` useful ones per stage, and gathering stops once ``limit`` hits
outrank anything later. With no more matches than that per stage the order is exact;
beyond (one character can match most records) the newest ``max(limit, RANK_POOL)``
matches of the best tier are ranked. Matching is never approximate. A query of
punctuation only scans ``search_doc``.

Storage
-------
* ``search_doc``: docid → kind, record_id, title, normalized title and body: the source
  for confirming substrings, for ranking and for re-deriving index tokens.
* ``search_fts``: contentless FTS5 (one column, ``detail=none``, ``ascii`` tokenizer) fed
  with every CJK character and overlapping bigram, every word, and the title's tokens again
  with a ``§`` mark (``§村``, ``§村§民``, ``§port``) so "in the title" is a token lookup,
  and a kind token (``¶case``) so the kind filter runs inside FTS5.
  One- and two-ideograph terms are exact lookups, longer ones AND their bigrams and are
  confirmed by ``instr()`` and Python, words are prefix queries. The ascii tokenizer splits
  at ASCII space and punctuation only, so every token (ideographs, words in any script, the
  mark) is indexed exactly as written, with no case folding, diacritic or punctuation rules
  from SQLite's Unicode 6.1 tables. FTS5 queries are built from such tokens only, never from
  user text. Avoided on purpose: the trigram tokenizer, whose MATCH needs three characters
  and whose LIKE/GLOB finds no one- or two-ideograph pattern in 3.40.1 (it counts bytes).
* ``search_meta``: token format and Unicode version. Contentless FTS5 forgets a row only
  when handed the tokens it was fed, so if either changes ``ensure_search_schema``
  rebuilds the index from ``search_doc``.

Cost (bench/bench_search.py, 200k synthetic documents of ~155 characters): build ~14 s,
index 52 MiB beside 121 MiB of stored text, median query 1-2 ms. Worst case: three or more
ideographs whose bigrams are each common but rarely adjacent (``年以上`` when ``年以`` and
``以上`` are everywhere): every document holding both bigrams is confirmed, ~60-120 ms.

Transactions belong to the caller: nothing here commits.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice, pairwise

KINDS = frozenset({"case", "problem"})
RANK_POOL = 100  # matches ranked per stage: 200 doubles query time, see the benchmark
TITLE_WEIGHT = 3.0

# Bump when the token encoding changes: existing indexes are then rebuilt, see module doc.
_TOKEN_FORMAT = "1"
_CHUNK_SIZE = 2000  # documents per executemany batch: bounded memory for 200k documents
_MAX_PARAMS = 500  # record ids per IN (...) lookup, well under SQLite's variable limit
_BM25_K1 = 1.2
_BM25_B = 0.75
_REFERENCE_LENGTH = 150.0  # fixed, so a score depends on the document alone

# CJK ideographs (URO, Ext A-H, compatibility) plus the ideographic iteration mark and
# numerals 々〆〇 and 〡-〩〸-〻, which behave as ideographs in Chinese text.
_CJK = (
    "\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0003ffff"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD_CHAR = rf"[^\W_{_CJK}]"  # alphanumeric, not an ideograph
_WORD_RUN = re.compile(f"{_WORD_CHAR}+")
_RUN = re.compile(f"(?P<cjk>[{_CJK}]+)|(?P<word>{_WORD_CHAR}+)")


@dataclass(frozen=True)
class SearchDoc:
    """One record as the index sees it."""

    kind: str  # "case" | "problem"
    record_id: str  # UUID string
    title: str
    body: str  # all other searchable text joined (description, measures, results...)


@dataclass(frozen=True)
class SearchHit:
    """One search result; higher ``score`` is better."""

    kind: str
    record_id: str
    title: str
    score: float


# Full-width punctuation is in nearly every Chinese sentence and sends NFKC down its slow
# path (about 7x slower). Replacing these characters by their compatibility decomposition
# first gives the same NFKC result (NFKC decomposes them to exactly that anyway) and lets
# NFKC's quick check succeed on typical text.
_COMMON_COMPAT = tuple(
    (char, unicodedata.normalize("NFKD", char)) for char in "，：；（）！？％～．／＋－＝"
)


def normalize(text: str) -> str:
    """Return ``text`` in the form matching is defined on: NFKC, then casefold."""
    for char, decomposed in _COMMON_COMPAT:
        if char in text:
            text = text.replace(char, decomposed)
    return unicodedata.normalize("NFKC", text).casefold()


# --- tokens -----------------------------------------------------------------------------

# Marks title tokens: not a CJK ideograph and not alphanumeric, so no plain token has it.
_TITLE_MARK = "§"
# Marks the kind token (``¶case``): filtering by kind inside FTS5 skips through doclists,
# where a SQL filter on the joined row would walk every newer record of the other kind.
_KIND_MARK = "¶"


class _CjkTokenTable(dict[int, str]):
    """``str.translate`` table turning normalized text into CJK tokens in one C pass.

    Each ideograph becomes ``"C C C"``; glued to its neighbours that yields every
    unigram and every bigram of a run (``AB`` → ``A A AB B B``). Everything else is a
    separator (words are collected separately). Filled lazily with the characters seen.
    With a mark, every character carries it: ``§A §A §A§B §B §B``.
    """

    def __init__(self, mark: str) -> None:
        super().__init__()
        self.mark = mark

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        if _CJK_CHAR.match(char):
            token = self.mark + char
            value = f"{token} {token} {token}"
        else:
            value = " "
        self[codepoint] = value
        return value


_PLAIN_TOKENS = _CjkTokenTable("")
_TITLE_TOKENS = _CjkTokenTable(_TITLE_MARK)


def _doc_tokens(kind: str, norm_title: str, norm_body: str) -> str:
    """What FTS5 indexes for a document: title and body, marked title tokens, the kind.

    CJK unigrams and bigrams come from the translate tables, words from ``_WORD_RUN``.
    The marked copies (``§村``, ``§port``) make "in the title" a plain token lookup whose
    doclist holds title occurrences only, instead of a column filter over every occurrence.
    """
    title_words = _WORD_RUN.findall(norm_title)
    return " ".join(
        [
            norm_title.translate(_PLAIN_TOKENS),
            norm_body.translate(_PLAIN_TOKENS),
            norm_title.translate(_TITLE_TOKENS),
            *title_words,
            *_WORD_RUN.findall(norm_body),
            *[_TITLE_MARK + word for word in title_words],
            _KIND_MARK + kind,
        ]
    )


# --- schema ----------------------------------------------------------------------------

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS search_doc (
        docid INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        record_id TEXT NOT NULL,
        title TEXT NOT NULL,
        norm_title TEXT NOT NULL,
        norm_body TEXT NOT NULL,
        UNIQUE (kind, record_id)
    )""",
    # The ascii tokenizer splits on ASCII punctuation and space only and treats every
    # non-ASCII character as part of a token: our pre-made tokens pass through unchanged.
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        tokens, content='', detail='none', tokenize='ascii'
    )""",
    "CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def ensure_search_schema(conn: sqlite3.Connection) -> None:
    """Create the search tables if missing; rebuild the index if its format is stale.

    Idempotent. The first call also records the format in ``search_meta`` (a write inside
    the caller's transaction).
    """
    for statement in _SCHEMA:
        conn.execute(statement)
    wanted = {"token_format": _TOKEN_FORMAT, "unicode_version": unicodedata.unidata_version}
    stored = dict(conn.execute("SELECT key, value FROM search_meta").fetchall())
    if stored == wanted:
        return
    if stored:
        _rebuild_index(conn)
    # Flush pending index data every 8 MB instead of 1 MB: fewer segments to merge during
    # a bulk load (about 20% faster at 200k documents). Stored in search_fts_config.
    conn.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 8388608)")
    conn.executemany(
        "INSERT OR REPLACE INTO search_meta (key, value) VALUES (?, ?)", wanted.items()
    )


def _rebuild_index(conn: sqlite3.Connection) -> None:
    """Re-derive every stored text and token from ``search_doc`` with today's rules."""
    conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
    last_docid = 0
    while True:
        rows = conn.execute(
            "SELECT docid, kind, norm_title, norm_body FROM search_doc WHERE docid > ?"
            " ORDER BY docid LIMIT ?",
            (last_docid, _CHUNK_SIZE),
        ).fetchall()
        if not rows:
            return
        fresh = [(docid, kind, normalize(t), normalize(b)) for docid, kind, t, b in rows]
        conn.executemany(
            "UPDATE search_doc SET norm_title = ?, norm_body = ? WHERE docid = ?",
            [(title, body, docid) for docid, _, title, body in fresh],
        )
        conn.executemany(
            "INSERT INTO search_fts (rowid, tokens) VALUES (?, ?)",
            [(docid, _doc_tokens(kind, title, body)) for docid, kind, title, body in fresh],
        )
        last_docid = rows[-1][0]


# --- writing ---------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown search kind {kind!r}; expected one of {sorted(KINDS)}")


def index_documents(conn: sqlite3.Connection, docs: Iterable[SearchDoc]) -> None:
    """Add ``docs``, replacing any indexed document with the same (kind, record_id).

    Streams ``docs`` in batches of ``_CHUNK_SIZE`` written with ``executemany``; a later
    duplicate wins. A replaced document gets a new docid, i.e. counts as newest.
    Raises ``ValueError`` for a kind outside ``KINDS`` before writing its batch.
    """
    iterator = iter(docs)
    while batch := list(islice(iterator, _CHUNK_SIZE)):
        _index_batch(conn, batch)


def _index_batch(conn: sqlite3.Connection, batch: list[SearchDoc]) -> None:
    latest = {(doc.kind, doc.record_id): doc for doc in batch}
    by_kind: dict[str, list[str]] = {}
    for kind, record_id in latest:
        _check_kind(kind)
        by_kind.setdefault(kind, []).append(record_id)
    for kind, record_ids in by_kind.items():
        _delete_records(conn, kind, record_ids)
    (first_docid,) = conn.execute("SELECT coalesce(max(docid), 0) + 1 FROM search_doc").fetchone()
    doc_rows = []
    fts_rows = []
    for docid, doc in enumerate(latest.values(), start=first_docid):
        title, body = normalize(doc.title), normalize(doc.body)
        doc_rows.append((docid, doc.kind, doc.record_id, doc.title, title, body))
        fts_rows.append((docid, _doc_tokens(doc.kind, title, body)))
    conn.executemany(
        "INSERT INTO search_doc (docid, kind, record_id, title, norm_title, norm_body)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        doc_rows,
    )
    conn.executemany("INSERT INTO search_fts (rowid, tokens) VALUES (?, ?)", fts_rows)


def remove_documents(conn: sqlite3.Connection, kind: str, record_ids: Iterable[str]) -> None:
    """Forget the given records of ``kind``; ids not in the index are ignored."""
    _check_kind(kind)
    _delete_records(conn, kind, list(record_ids))


def _delete_records(conn: sqlite3.Connection, kind: str, record_ids: Sequence[str]) -> None:
    for start in range(0, len(record_ids), _MAX_PARAMS):
        chunk = record_ids[start : start + _MAX_PARAMS]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT docid, norm_title, norm_body FROM search_doc"
            f" WHERE kind = ? AND record_id IN ({marks})",
            (kind, *chunk),
        ).fetchall()
        if not rows:
            continue
        # A contentless table forgets a row only when handed the tokens it was given.
        conn.executemany(
            "INSERT INTO search_fts (search_fts, rowid, tokens) VALUES ('delete', ?, ?)",
            [(docid, _doc_tokens(kind, title, body)) for docid, title, body in rows],
        )
        conn.executemany("DELETE FROM search_doc WHERE docid = ?", [(row[0],) for row in rows])


# --- query terms -------------------------------------------------------------------------


def _phrase(token: str, is_word: bool, in_title: bool) -> str:
    """FTS5 phrase for a query token; words match as prefixes."""
    if in_title:
        token = _TITLE_MARK + token if is_word else "".join(_TITLE_MARK + c for c in token)
    # Tokens are ideographs or alphanumeric words: quoting them is always safe.
    return f'"{token}"*' if is_word else f'"{token}"'


@dataclass(frozen=True)
class _Term:
    """One normalized query term: how the index narrows it and how Python decides it."""

    text: str
    tokens: tuple[tuple[str, bool], ...]  # (token, is_word), all required; may be empty
    word: re.Pattern[str] | None  # set when the term is a single word: prefix semantics
    run_words: tuple[re.Pattern[str], ...]  # word runs of a mixed term, each must match
    needs_substring: bool  # the tokens alone do not prove a match

    def expression(self, in_title: bool) -> str:
        """FTS5 expression for the term anywhere, or in the title only."""
        return " AND ".join(_phrase(token, is_word, in_title) for token, is_word in self.tokens)

    def counts(self, title: str, body: str) -> tuple[int, int] | None:
        """Occurrences in title and body, or None when the term does not match."""
        if self.word is not None:
            in_title, in_body = len(self.word.findall(title)), len(self.word.findall(body))
        else:
            in_title, in_body = title.count(self.text), body.count(self.text)
        if not in_title and not in_body:
            return None
        for pattern in self.run_words:
            if not (pattern.search(title) or pattern.search(body)):
                return None
        return in_title, in_body

    def in_title(self, title: str, title_count: int) -> bool:
        """Whether the term matches in the title alone (its tier contribution)."""
        return title_count > 0 and all(pattern.search(title) for pattern in self.run_words)


def _word_prefix(word: str) -> re.Pattern[str]:
    """Occurrences of ``word`` at the start of a word.

    The literal comes first and the boundary is a look-behind over it, which lets the
    regex engine jump between literal hits: ten times faster than a leading look-behind.
    """
    literal = re.escape(word)
    return re.compile(f"{literal}(?<!{_WORD_CHAR}{literal})")


def _parse_term(text: str) -> _Term:
    runs = list(_RUN.finditer(text))
    tokens: list[tuple[str, bool]] = []
    run_words: list[re.Pattern[str]] = []
    for run in runs:
        chars = run.group()
        if run.lastgroup == "word":
            tokens.append((chars, True))
            run_words.append(_word_prefix(chars))
        elif len(chars) == 1:
            tokens.append((chars, False))
        else:
            tokens.extend((a + b, False) for a, b in pairwise(chars))
    unique = tuple(dict.fromkeys(tokens))
    whole_run = len(runs) == 1 and runs[0].group() == text
    if whole_run and runs[0].lastgroup == "word":
        return _Term(text, unique, run_words[0], (), needs_substring=False)
    exact_lookup = whole_run and len(text) <= 2  # one unigram or one bigram token
    return _Term(text, unique, None, tuple(run_words), needs_substring=not exact_lookup)


def _parse_query(query: str) -> list[_Term]:
    return [_parse_term(text) for text in dict.fromkeys(normalize(query).split())]


# --- searching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stage:
    match: str | None  # FTS5 expression; None means scan search_doc
    floor: int  # highest tier a document this stage does not return can have


@dataclass(frozen=True)
class _Ranked:
    kind: str
    record_id: str
    title: str
    tier: int
    relevance: float


def _stages(terms: Sequence[_Term]) -> list[_Stage]:
    """Candidate stages, best tiers first: every term in the title, some, anywhere."""
    indexed = [term for term in terms if term.tokens]
    if not indexed:
        return [_Stage(None, -1)]
    anywhere = " AND ".join(f"({term.expression(in_title=False)})" for term in indexed)
    in_title = " AND ".join(f"({term.expression(in_title=True)})" for term in indexed)
    stages = [_Stage(in_title, len(terms) - 1)]
    if len(indexed) > 1:
        some = " OR ".join(f"({term.expression(in_title=True)})" for term in indexed)
        stages.append(_Stage(f"{anywhere} AND ({some})", len(terms) - len(indexed)))
    stages.append(_Stage(anywhere, -1))
    return stages


def _rank(terms: Sequence[_Term], title: str, body: str) -> tuple[int, float] | None:
    """(tier, relevance) of a candidate, or None when it does not really match."""
    damping = _BM25_K1 * (1 - _BM25_B + _BM25_B * (len(title) + len(body)) / _REFERENCE_LENGTH)
    tier = 0
    relevance = 0.0
    for term in terms:
        counts = term.counts(title, body)
        if counts is None:
            return None
        tier += term.in_title(title, counts[0])
        weight = TITLE_WEIGHT * counts[0] + counts[1]
        relevance += weight / (weight + damping)
    return tier, relevance / len(terms)


def _candidates(
    conn: sqlite3.Connection, stage: _Stage, terms: Sequence[_Term], kind: str | None
) -> sqlite3.Cursor:
    """Rows of a stage, newest first, pre-filtered in SQL where that is exact."""
    columns = "d.docid, d.kind, d.record_id, d.title, d.norm_title, d.norm_body"
    where: list[str] = []
    params: list[str] = []
    if stage.match is None:
        source, order = "search_doc AS d", "d.docid DESC"
        if kind is not None:
            where.append("d.kind = ?")
            params.append(kind)
    else:
        source = "search_fts JOIN search_doc AS d ON d.docid = search_fts.rowid"
        order = "search_fts.rowid DESC"
        where.append("search_fts MATCH ?")
        kind_token = "" if kind is None else f' AND "{_KIND_MARK}{kind}"'
        params.append(f"({stage.match}){kind_token}")
    for term in terms:
        if term.needs_substring:
            # instr() compares characters, unlike 3.40.1's LIKE shortcut; it rejects
            # bigram false positives in C before Python sees them.
            where.append("(instr(d.norm_title, ?) > 0 OR instr(d.norm_body, ?) > 0)")
            params += [term.text, term.text]
    sql = f"SELECT {columns} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return conn.execute(f"{sql} ORDER BY {order}", params)


def _gather(
    cursor: sqlite3.Cursor,
    terms: Sequence[_Term],
    stage: _Stage,
    quota: int,
    found: dict[int, _Ranked],
) -> None:
    """Rank a stage's rows into ``found`` until ``quota`` of them beat ``stage.floor``."""
    qualified = 0
    try:
        for docid, kind, record_id, title, norm_title, norm_body in cursor:
            if docid in found:
                continue
            ranked = _rank(terms, norm_title, norm_body)
            if ranked is None:
                continue
            found[docid] = _Ranked(kind, record_id, title, *ranked)
            if ranked[0] > stage.floor:
                qualified += 1
                if qualified >= quota:
                    break
    finally:
        cursor.close()  # ends the statement early; the caller's transaction stays open


def search(
    conn: sqlite3.Connection, query: str, kind: str | None = None, limit: int = 20
) -> list[SearchHit]:
    """Documents matching every term of ``query``, best first, at most ``limit``.

    ``kind`` restricts to "case" or "problem". The query is literal text: quotes, ``*``,
    ``AND`` and the like are matched as written, never interpreted.
    """
    if kind is not None:
        _check_kind(kind)
    terms = _parse_query(query)
    if not terms or limit <= 0:
        return []
    quota = max(limit, RANK_POOL)
    found: dict[int, _Ranked] = {}
    for stage in _stages(terms):
        _gather(_candidates(conn, stage, terms, kind), terms, stage, quota, found)
        if sum(hit.tier > stage.floor for hit in found.values()) >= limit:
            break  # everything a later stage could add ranks below these
    best = sorted(found.values(), key=lambda h: (-h.tier, -h.relevance, h.kind, h.record_id))
    return [
        SearchHit(hit.kind, hit.record_id, hit.title, hit.tier + hit.relevance)
        for hit in best[:limit]
    ]


def matching_ids_sql(query: str, kind: str) -> tuple[str, list[str]] | None:
    """A subquery of the ``record_id`` of every ``kind`` document matching ``query``.

    Unranked and unlimited (a list filtered by a search shows every match in its own
    order). The match is exact in SQL: one- and two-ideograph terms and words are exact
    token lookups (a word token is a whole word, so a prefix query is "a word begins
    with"), and every other term is confirmed by ``instr()`` over the title or the body,
    as `search` does. None for a blank query (no filter).
    """
    _check_kind(kind)
    terms = _parse_query(query)
    if not terms:
        return None
    stage = _stages(terms)[-1]  # "anywhere": every match, whatever its tier
    where: list[str] = []
    params: list[str] = []
    if stage.match is None:
        source = "search_doc AS d"
        where.append("d.kind = ?")
        params.append(kind)
    else:
        source = "search_fts JOIN search_doc AS d ON d.docid = search_fts.rowid"
        where.append("search_fts MATCH ?")
        params.append(f'({stage.match}) AND "{_KIND_MARK}{kind}"')
    for term in terms:
        if term.needs_substring:
            where.append("(instr(d.norm_title, ?) > 0 OR instr(d.norm_body, ?) > 0)")
            params += [term.text, term.text]
    return f"SELECT d.record_id FROM {source} WHERE {' AND '.join(where)}", params
