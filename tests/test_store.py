"""The store: schema, migrations, durability settings, and the change log as the
single source of truth."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from villagebook.domain.fields import ENTITIES
from villagebook.services import cases, problems
from villagebook.services.dump import dump_json
from villagebook.store import changelog, db
from villagebook.store.migrations import (
    FutureSchemaError,
    all_steps,
    applied_steps,
    migrate,
    schema_version,
)
from villagebook.store.node import Store
from villagebook.store.search_index import normalize


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_migrations_build_exactly_the_sqlmodel_schema(tmp_path: Path) -> None:
    from sqlmodel import SQLModel

    import villagebook.store.models  # noqa: F401  (registers the tables)

    conn = db.connect(tmp_path / "x.db")
    for table in SQLModel.metadata.sorted_tables:
        assert _columns(conn, table.name) == {c.name for c in table.columns}, table.name


def test_projection_tables_mirror_the_domain_fields(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "x.db")
    for entity in ENTITIES.values():
        expected = {entity.key, *entity.field_names, "updated_hlc"}
        assert _columns(conn, entity.table) == expected, entity.name


def test_a_database_is_upgraded_step_by_step_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = db.connect(path, upgrade=False)
    assert migrate(conn, until="core-1-tables") == 1
    conn.execute("INSERT INTO setting (key, value) VALUES ('lang', '\"zh\"')")
    conn.close()
    conn = db.connect(path)
    assert applied_steps(conn) == [name for name, _ in all_steps()]
    assert schema_version(conn) == len(all_steps())
    assert conn.execute("SELECT value FROM setting").fetchone()[0] == '"zh"'


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = db.connect(path)
    conn.execute("INSERT INTO schema_step (name) VALUES ('sync-99-from-the-future')")
    conn.execute(f"PRAGMA user_version = {len(all_steps()) + 1}")
    conn.close()
    with pytest.raises(FutureSchemaError):
        db.connect(path)


def test_durability_settings(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "x.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_a_failed_write_leaves_nothing_behind(village: Store) -> None:
    before = dump_json(village)
    with pytest.raises(RuntimeError), village.transaction():
        cases.create_case(village, {"title": "半途而废", "lead_person": "李明",
                                    "direction": "process"})
        raise RuntimeError("power cut")
    assert dump_json(village) == before
    held = village.conn.execute("SELECT count(*) FROM change_set WHERE entity = 'case'").fetchone()
    assert held[0] == 0


def busy_village(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    case_ids, problem_ids = [], []
    for i in range(12):
        case_ids.append(cases.create_case(store, {
            "title": f"案例{i}", "lead_person": "王强", "direction": "breakthrough",
            "measures": "入户走访" * rng.randint(1, 3)}))
        problem_ids.append(problems.create_problem(store, {
            "title": f"问题{i}", "category": "urgent", "source": "visit",
            "reported_date": "2025-03-01", "urgency": "high", "deadline": "2025-06-01"}))
    for _ in range(40):
        action = rng.random()
        if action < 0.4 and case_ids:
            saved = f"节约{rng.randint(1, 99)}天"
            cases.update_case(store, rng.choice(case_ids), {"results": saved})
        elif action < 0.7 and problem_ids:
            problems.add_followup(store, rng.choice(problem_ids), "召开会议研究", "赵六")
        elif action < 0.85 and problem_ids:
            pid = rng.choice(problem_ids)
            if problems.get_problem(store, pid)["status"] == "open":
                problems.move_problem(store, pid, "studying")
        elif case_ids:
            victim = case_ids.pop(rng.randrange(len(case_ids)))
            cases.delete_case(store, victim)


def test_the_tables_are_rebuilt_from_the_change_records_alone(village: Store) -> None:
    busy_village(village, seed=7)
    before = dump_json(village)
    with village.transaction() as conn:
        changelog.rebuild(conn)
    assert dump_json(village) == before


Document = tuple[str, str, str, tuple[str, ...]]


def _document(kind: str, record_id: str, title: str, norm_body: str) -> Document:
    """A search document, comparable whatever order a problem's follow-ups were joined in."""
    lines = norm_body.split("\n")
    if kind == "problem":  # description, resolution, then the follow-ups
        lines = lines[:2] + sorted(lines[2:])
    return kind, record_id, title, tuple(lines)


def search_documents(store: Store) -> list[Document]:
    """What the search index holds."""
    return sorted(_document(*row) for row in store.conn.execute(
        "SELECT kind, record_id, title, norm_body FROM search_doc"))


def expected_documents(store: Store) -> list[Document]:
    """What it should hold: every live case and problem with its text, follow-ups included."""
    conn = store.conn
    docs = [_document("case", rid, title or "", normalize("\n".join(x or "" for x in text)))
            for rid, title, *text in conn.execute(
                "SELECT id, title, problem_addressed, measures, results, public_recognition "
                "FROM innovation_case")]
    for rid, title, description, resolution in conn.execute(
            "SELECT id, title, description, resolution FROM problem"):
        notes = [text for (text,) in conn.execute(
            "SELECT text FROM followup WHERE problem_id = ?", (rid,))]
        body = "\n".join([description or "", resolution or "", "\n".join(notes)])
        docs.append(_document("problem", rid, title or "", normalize(body)))
    return sorted(docs)


def test_the_search_index_mirrors_the_records_after_edits_deletes_and_a_rebuild(
    village: Store,
) -> None:
    busy_village(village, seed=11)
    assert search_documents(village) == expected_documents(village)
    with village.transaction() as conn:
        changelog.rebuild(conn)
    assert search_documents(village) == expected_documents(village)


def test_every_write_is_recorded_as_field_changes_that_replace_their_predecessor(
    village: Store,
) -> None:
    case_id = cases.create_case(village, {"title": "初稿", "lead_person": "王强",
                                          "direction": "breakthrough"})
    first = changelog.heads_of(village.conn, "case", case_id, "title")
    cases.update_case(village, case_id, {"title": "定稿"})
    second = changelog.heads_of(village.conn, "case", case_id, "title")
    assert len(first) == len(second) == 1
    assert second[0].replaces == (first[0].change_id,)
    assert second[0].hlc > first[0].hlc
    assert second[0].device_id == village.node.device_id


def test_concurrent_edits_of_one_field_are_both_kept_with_a_deterministic_winner(
    village: Store,
) -> None:
    case_id = cases.create_case(village, {"title": "初稿", "lead_person": "王强",
                                          "direction": "breakthrough"})
    base = changelog.heads_of(village.conn, "case", case_id, "title")[0]
    rivals = [
        changelog.ChangeRecord(changelog.change_id_for(stamp, device, "title"), "case", case_id,
                               "title", changelog.encode(text), stamp, device, base.unit,
                               (base.change_id,))
        for stamp, device, text in ((base.hlc + 5, "aaaa", "甲稿"), (base.hlc + 9, "bbbb", "乙稿"))
    ]
    for order in (rivals, rivals[::-1]):
        with village.transaction() as conn:
            changelog.apply(conn, order)
        heads = changelog.heads_of(village.conn, "case", case_id, "title")
        assert [h.decoded() for h in heads] == ["乙稿", "甲稿"]
        assert cases.get_case(village, case_id)["title"] == "乙稿"
        [conflict] = changelog.conflicts(village.conn)
        assert (conflict.record_id, conflict.field) == (case_id, "title")


def test_changes_that_contradict_their_ids_are_refused_before_anything_is_written(
    village: Store,
) -> None:
    case_id = cases.create_case(village, {"title": "原题", "lead_person": "王强",
                                          "direction": "breakthrough"})
    [title] = changelog.heads_of(village.conn, "case", case_id, "title")
    forged = changelog.ChangeRecord(title.change_id.replace("title", "measures"), "case",
                                    case_id, "title", changelog.encode("篡改"), title.hlc,
                                    title.device_id, title.unit)
    other_record = changelog.ChangeRecord(
        changelog.change_id_for(title.hlc, title.device_id, "results"), "case",
        changelog.new_record_id(0), "results", changelog.encode("x"), title.hlc,
        title.device_id, title.unit)
    for bad in ([forged], [other_record]):
        with pytest.raises(changelog.MalformedChange), village.transaction() as conn:
            changelog.apply(conn, bad)
    assert cases.get_case(village, case_id)["title"] == "原题"


def test_a_deleted_record_never_comes_back(village: Store) -> None:
    case_id = cases.create_case(village, {"title": "删掉", "lead_person": "王强",
                                          "direction": "breakthrough"})
    old_changes = [c for _, c in changelog.iter_changes(village.conn)
                   if c.record_id == case_id]
    cases.delete_case(village, case_id)
    with village.transaction() as conn:
        outcome = changelog.apply(conn, old_changes)
    assert outcome.new == 0 and outcome.duplicate == len(old_changes)
    assert village.conn.execute("SELECT count(*) FROM innovation_case").fetchone()[0] == 0
