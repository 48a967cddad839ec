"""A secretary searches a list for a word most records hold: the count is true and every
match can be reached, not only the best few hundred (issue 19, item 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.pilot import settle
from villagebook.services.demo import generate
from villagebook.store import search_index
from villagebook.store.node import NOW_ENV, Store

SIZE = (80, 24)
MATCHES = 700  # more than the 500 the lists used to stop at


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(NOW_ENV, "2026-06-01T10:00:00")
    yield


def matching(store: Store, text: str, kind: str) -> set[str]:
    return {hit.record_id for hit in search_index.search(store.conn, text, kind=kind,
                                                          limit=10**6)}


async def search_for(pilot: Pilot[Any], text: str) -> None:
    pilot.app.screen.query_one("#search", Input).value = text
    await pilot.press("slash", "enter")  # submit: search now, then back to the table
    await settle(pilot)


async def walk_to_the_end(pilot: Pilot[Any]) -> list[str]:
    """Every row, page by page with PageDown, as a user scrolls."""
    table = pilot.app.screen.query_one("#rows")
    seen: list[str] = []
    while True:
        seen += [str(table.coordinate_to_cell_key((row, 0)).row_key.value)
                 for row in range(table.row_count)]
        if not table.page.more_after:
            return seen
        table.move_cursor(row=table.row_count - 1)
        await pilot.press("pagedown")
        await settle(pilot)


@pytest.mark.parametrize(("key", "kind", "screen"), [("f3", "case", "CaseListScreen"),
                                                     ("f4", "problem", "ProblemListScreen")])
async def test_a_search_with_hundreds_of_matches_counts_and_reaches_them_all(
        village: Store, key: str, kind: str, screen: str) -> None:
    generate(village, cases=MATCHES, problems=MATCHES, seed=3)
    expected = matching(village, "村", kind)
    assert len(expected) > 500
    from villagebook.screens.app import make_app

    app = make_app(village.home, "zh")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert type(app.screen).__name__ == screen
        await search_for(pilot, "村")
        status = app.screen.query_one("#list-status", Static).render()
        assert f"共 {len(expected):,} 条" in str(status)
        table = app.screen.query_one("#rows")
        assert table.total == len(expected)
        seen = await walk_to_the_end(pilot)
        assert len(seen) == len(set(seen)) == len(expected)
        assert set(seen) == expected
