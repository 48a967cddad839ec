"""The theme and remapped keys persist in a config file the user can find
(`villagebook config path`), edit by hand, or change from Settings (F9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Select

from tests.conftest import run_cli
from tests.pilot import settle
from villagebook.services.config_file import (
    InterfaceConfig,
    config_path,
    read_config,
    write_config,
)
from villagebook.store.node import Store


def test_config_path_names_the_homes_file(tmp_path: Path) -> None:
    done = run_cli(tmp_path / "baima", "config", "path")
    assert done.code == 0
    assert done.out.strip() == str(tmp_path / "baima" / "config.toml")


async def test_theme_and_keys_chosen_in_settings_survive_a_restart(village: Store) -> None:
    from villagebook.screens.app import make_app

    app: Any = make_app(village.home, "zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#theme", Select).value = "textual-light"
        screen.query_one("#keys", Input).value = "app.help=f2"
        await pilot.press("ctrl+s")
        await settle(pilot)
    saved = read_config(village.home)
    assert saved == InterfaceConfig("textual-light", {"app.help": "f2"})
    again: Any = make_app(village.home, "zh")
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert again.theme == "textual-light"
        await pilot.press("f2")
        await settle(pilot)
        assert type(again.screen).__name__ == "HelpScreen"


async def test_a_theme_picked_from_the_palette_is_kept(village: Store) -> None:
    from villagebook.screens.app import make_app

    write_config(village.home, InterfaceConfig(None, {"app.help": "f2"}))
    app: Any = make_app(village.home, "zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.theme = "nord"  # what the palette's 主题 entry does
        await settle(pilot)
    assert read_config(village.home) == InterfaceConfig("nord", {"app.help": "f2"})


def test_a_hand_edited_file_with_a_bom_is_read_and_a_broken_one_ignored(tmp_path: Path) -> None:
    path = config_path(tmp_path)
    path.write_bytes('\ufefftheme = "nord"\n[keys]\n"list.new" = "insert"\n'.encode())
    assert read_config(tmp_path) == InterfaceConfig("nord", {"list.new": "insert"})
    path.write_text("theme = [unclosed", encoding="utf-8")
    assert read_config(tmp_path) == InterfaceConfig()

