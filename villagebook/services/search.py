"""Full-text search over cases and ledger entries, for the CLI and the screens."""

from __future__ import annotations

from villagebook.store import search_index
from villagebook.store.node import Store

SearchHit = search_index.SearchHit


def search(store: Store, text: str, kind: str | None = None, limit: int = 20) -> list[SearchHit]:
    """Hits for `text`, best first (see `villagebook.store.search_index` for the rules)."""
    return search_index.search(store.conn, text, kind=kind, limit=limit)
