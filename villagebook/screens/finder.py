"""The command palette's record finder: cases and ledger problems by title, and
the app's main actions. Titles are user data, shown as literal `Text`."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from villagebook.i18n import _

if TYPE_CHECKING:
    from villagebook.screens.village_app import VillageBookApp


def _search(home: Any, query: str) -> list[Any]:
    from villagebook.services.search import search
    from villagebook.store.node import Store

    with Store(home) as store:
        if not store.initialised:
            return []
        return search(store, query, limit=12)


class RecordFinder(Provider):
    """Finds cases and problems by title (full-text search), and the main actions."""

    def _actions(self) -> list[tuple[str, str, Any]]:
        from villagebook.screens.app import NAVIGATION

        app: VillageBookApp = self.app  # type: ignore[assignment]
        found = [(_("Open: {screen}").format(screen=_(entry.label)),
                  _("Go to this screen"), partial(app.action_open, name))
                 for name, entry in NAVIGATION.items() if app.serves(name)]
        found.append((_("New case"), _("Log a new innovation case"),
                      partial(app.action_open_new, "case")))
        found.append((_("New ledger problem"), _("Add an entry to the problem ledger"),
                      partial(app.action_open_new, "problem")))
        return found

    async def discover(self) -> Hits:
        """The main actions, before anything is typed."""
        for title, help_text, command in self._actions():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        """Actions matching `query`, then records whose title or text matches it."""
        matcher = self.matcher(query)
        for title, help_text, command in self._actions():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, Text(title), command, text=title, help=help_text)
        if not query.strip():
            return
        from villagebook.services.messages import safe_text

        app: VillageBookApp = self.app  # type: ignore[assignment]
        hits = await asyncio.to_thread(_search, app.home, query)
        labels = {"case": _("Innovation case"), "problem": _("Ledger problem")}
        for rank, hit in enumerate(hits):
            title = safe_text(hit.title or "")
            yield Hit(max(0.1, 0.9 - rank * 0.05), Text(title),
                      partial(app.open_record, hit.kind, hit.record_id),
                      text=title, help=labels.get(hit.kind, ""))
