"""The terminal app's factory (used by the CLI and by tests)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from villagebook.i18n import _


class VillageBookApp(App[None]):
    """The terminal app. Screens fill in as features land."""

    TITLE = "VillageBook"

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="node")
        yield Footer()

    def on_mount(self) -> None:
        from villagebook.store.node import Store

        with Store(self.home) as store:
            if store.initialised:
                node = store.node
                text = _("Unit {unit}, role {role}").format(unit=node.unit_code,
                                                           role=_(node.role.label))
            else:
                text = _("This home is not set up yet; run: villagebook init --help")
        self.query_one("#node", Static).update(text)


def make_app(home: Path, lang: str | None = None) -> VillageBookApp:
    """Build the app for a home (the one factory the CLI and tests share)."""
    from villagebook.i18n import set_language

    if lang:
        set_language(lang)
    return VillageBookApp(home)


def run_app(home: Path, lang: str | None = None) -> None:
    """Open the terminal app on `home`."""
    make_app(home, lang).run()
