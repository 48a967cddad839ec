"""Settings of this laptop: the language, the name that signs follow-ups, and the
interface's theme and remapped keys (those two in the config file, see
`services.config_file`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Select, Static

from villagebook.i18n import N_, _, current_language
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers


@dataclass
class SettingsRead(Message):
    """The settings were read."""

    author: str
    node_line: str
    theme: str | None
    keys: str


@dataclass
class SettingsSaved(Message):
    """The settings were saved; `language` is the one to apply."""

    language: str
    theme: str
    keys: dict[str, str]


class SettingsScreen(ReportsFailedWorkers, Screen[None]):
    """Language and signature."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", N_("Save"), id="settings.save", priority=True,
                tooltip=N_("Save the settings")),
        Binding("escape", "app.pop_screen", N_("Back"), id="settings.back",
                tooltip=N_("Back without saving")),
    ]

    def __init__(self, home: Path) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="setup-scroll"):
            yield Static("", id="node-line", classes="field-label")
            yield Static(Text(_("Language")), classes="field-label")
            yield Select([(Text("中文"), "zh"), (Text("English"), "en")],
                         value=current_language(), allow_blank=False, id="language")
            yield Static(Text(_("Your name (signs the follow-ups you add)")),
                         classes="field-label")
            yield Input(id="author", max_length=40)
            yield Static(Text(_("Theme")), classes="field-label")
            yield Select([(Text(name), name) for name in sorted(self.app.available_themes)],
                         value=self.app.theme, allow_blank=False, id="theme")
            yield Static(Text(_("Your keys (binding id=keys; separated by ;) e.g. "
                                "list.new=insert")), classes="field-label")
            yield Input(id="keys", placeholder="list.new=insert; app.quit=ctrl+q")
            yield Static("", id="config-line", classes="field-label")
        yield Static(Text(_("Ctrl+S saves · Esc goes back")), classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        """Title, then the current settings."""
        self.title = _("Settings")
        self.query_one("#language", Select).focus()
        self.read_settings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="settings")
    def read_settings(self) -> None:
        """Read on a worker."""
        from villagebook.domain.enums import Role
        from villagebook.services.config_file import format_keys, read_config
        from villagebook.services.messages import safe_text
        from villagebook.services.setup import unit_name
        from villagebook.store.node import Store

        with Store(self.home) as store:
            node = store.node
            line = _("This laptop: {unit} ({code}), {role}").format(
                unit=unit_name(store, node.unit_code) or node.unit_code, code=node.unit_code,
                role=_(Role(node.role).label))
            author = store.get_setting("author_name") or ""
        config = read_config(self.home)
        self.post_message(SettingsRead(author, safe_text(line), config.theme,
                                       format_keys(config.keys)))

    def on_settings_read(self, message: SettingsRead) -> None:
        """Show them."""
        self.query_one("#node-line", Static).update(Text(message.node_line))
        from villagebook.services.config_file import config_path

        self.query_one("#author", Input).value = message.author
        self.query_one("#keys", Input).value = message.keys
        self.query_one("#config-line", Static).update(Text(
            _("Theme and keys are kept in {path}").format(path=config_path(self.home))))

    def action_save(self) -> None:
        """Save on a worker."""
        from villagebook.services.config_file import parse_keys

        language = str(self.query_one("#language", Select).value)
        try:
            keys = parse_keys(self.query_one("#keys", Input).value)
        except ValueError as bad:
            self.notify(_("{entry} is not binding id=keys").format(entry=bad), markup=False,
                        severity="error")
            return
        theme = str(self.query_one("#theme", Select).value)
        self.save_settings(language, self.query_one("#author", Input).value.strip(), theme, keys)

    @work(thread=True, exclusive=True, exit_on_error=False, group="settings")
    def save_settings(self, language: str, author: str, theme: str,
                      keys: dict[str, str]) -> None:
        """Write the settings (local, never synced): the language and the name in the
        home, the theme and the keys in the config file."""
        from villagebook.services.config_file import InterfaceConfig, write_config
        from villagebook.store.node import Store

        with Store(self.home) as store:
            store.put_setting("language", language)
            store.put_setting("author_name", author)
        write_config(self.home, InterfaceConfig(theme, keys))
        self.post_message(SettingsSaved(language, theme, keys))

    def on_settings_saved(self, message: SettingsSaved) -> None:
        """Apply the language at once: every screen is rebuilt in it."""
        app = self.app
        app.theme = message.theme
        app.set_keymap(message.keys)
        app.apply_language(message.language)  # type: ignore[attr-defined]
        self.notify(_("Settings saved"), markup=False, timeout=3)
        app.restart_on_dashboard()  # type: ignore[attr-defined]
