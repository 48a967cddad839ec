"""The read side behind the lists and the dashboard: keyset pages walk every record
exactly once, forwards and backwards, under any filter and sort."""

from __future__ import annotations

from typing import Any

import pytest

from villagebook.services.dashboard import figures, read_figures
from villagebook.services.demo import generate
from villagebook.services.listing import ListQuery, count, page
from villagebook.store.node import NOW_ENV, Store


@pytest.fixture
def filled(village: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv(NOW_ENV, "2026-11-01T09:00:00")
    generate(village, cases=230, problems=170, seed=3)
    return village


def walk_forwards(store: Store, query: ListQuery, size: int) -> list[str]:
    found: list[dict[str, Any]] = []
    current = page(store, query, size=size)
    found += current.rows
    while current.more_after:
        current = page(store, query, after=current.last_key(query.sort), size=size)
        found += current.rows
    return [row["id"] for row in found]


def walk_backwards(store: Store, query: ListQuery, size: int) -> list[str]:
    found: list[dict[str, Any]] = []
    current = page(store, query, from_end=True, size=size)
    found = current.rows + found
    while current.more_before:
        current = page(store, query, before=current.first_key(query.sort), size=size)
        found = current.rows + found
    return [row["id"] for row in found]


QUERIES = [
    ListQuery("case"),
    ListQuery("case", sort="title"),
    ListQuery("case", filters={"status": "draft", "direction": "process"}),
    ListQuery("problem", overdue_only=True),
    ListQuery("problem", open_only=True, sort="title"),
    ListQuery("problem", filters={"urgency": "high", "category": "urgent"}),
    ListQuery("case", search="村"),
]


@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_pages_cover_every_record_once_in_both_directions(filled: Store,
                                                          query: ListQuery) -> None:
    forwards = walk_forwards(filled, query, size=17)
    assert len(forwards) == len(set(forwards)) == count(filled, query)
    assert walk_backwards(filled, query, size=17) == forwards
    assert forwards, "each query should find something in the demo data"
    assert page(filled, query, size=17, with_total=True).total == len(forwards)
    assert page(filled, query, size=17).total is None


def test_hostile_search_text_is_only_text(filled: Store) -> None:
    for text in ("' OR 1=1 --", '"', "*", "AND", "\x00", "[red]"):
        query = ListQuery("case", search=text)
        assert count(filled, query) == len(walk_forwards(filled, query, size=50))


def test_unknown_filters_are_refused(filled: Store) -> None:
    with pytest.raises(ValueError):
        count(filled, ListQuery("case", filters={"title; DROP TABLE x": "1"}))


def test_dashboard_figures_agree_with_the_lists(filled: Store) -> None:
    found = figures(filled)
    assert read_figures(filled.home) == found
    assert sum(found.cases_by_status.values()) == count(filled, ListQuery("case"))
    assert found.problems_overdue == count(filled, ListQuery("problem", overdue_only=True))
    assert found.problems_open == count(filled, ListQuery("problem", open_only=True))
    for status, number in found.cases_by_status.items():
        assert number == count(filled, ListQuery("case", filters={"status": status}))
    assert found.unsent_changes > 0 and found.last_export_at is None
    filled.put_setting("last_export_at", "2999-01-01T00:00:00")
    assert figures(filled).unsent_changes == 0
