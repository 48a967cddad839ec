"""The command palette's system entries (Textual's theme, quit, keys, screenshot)
speak Chinese, beside the screens, and open the reports folder."""

from __future__ import annotations

from typing import Any

from tests.pilot import settle
from villagebook.store.node import Store


async def test_palette_system_entries_are_chinese(village: Store) -> None:
    from villagebook.screens.app import make_app

    app: Any = make_app(village.home, "zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = {command.title: command.help for command in app.get_system_commands(app.screen)}
    assert {"主题", "退出", "截图", "报表文件夹"} <= set(titles), titles
    assert titles["主题"] == "更换界面主题"
    assert not {"Theme", "Quit", "Screenshot"} & set(titles)
