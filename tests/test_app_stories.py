"""The terminal app as a village secretary uses it, driven by Pilot at 80×24.

Real homes in tmp_path, the real services underneath, a pinned clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select, Static

from tests.pilot import settle
from villagebook.services import cases, problems
from villagebook.services.dashboard import figures
from villagebook.store.node import NOW_ENV, Store
from villagebook.sync.identity import public_key_path, secret_key_path

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(NOW_ENV, "2026-06-01T10:00:00")
    yield


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type like an input method would: one character at a time."""
    for char in text:
        await pilot.press(char)


def screen_name(pilot: Pilot[Any]) -> str:
    return type(pilot.app.screen).__name__


def the_app(home: Path, lang: str = "zh") -> Any:
    from villagebook.screens.app import make_app

    return make_app(home, lang)


async def test_secretary_creates_a_case_finds_it_by_two_characters_edits_and_submits_it(
        village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
        await pilot.press("n")
        await settle(pilot)
        assert screen_name(pilot) == "CaseFormScreen"
        form = app.screen
        await type_text(pilot, "稻田养虾合作社")  # the title field has the focus
        form.query_one("#field-lead_person", Input).value = "张明"
        form.query_one("#field-direction", Select).value = "breakthrough"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"

        await pilot.press("f3")
        await settle(pilot)
        assert screen_name(pilot) == "CaseListScreen"
        await pilot.press("slash")
        await type_text(pilot, "养虾")
        await pilot.pause(0.4)
        await settle(pilot)
        table = app.screen.query_one("#rows")
        assert table.row_count == 1
        assert table.get_row_at(0)[0].plain == "稻田养虾合作社"
        await pilot.press("enter")  # from the search box to the table
        await pilot.press("enter")  # open the case
        await settle(pilot)
        assert screen_name(pilot) == "CaseDetailScreen"

        await pilot.press("e")
        await settle(pilot)
        lead = app.screen.query_one("#field-lead_person", Input)
        assert lead.value == "张明"
        lead.value = "李红"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "CaseDetailScreen"
        assert "李红" in app.screen.query_one("#detail", Static).render().plain  # type: ignore[union-attr]

        await pilot.press("s")
        await settle(pilot)
        assert screen_name(pilot) == "ConfirmDialog"
        await pilot.press("y")
        await settle(pilot)
    with Store(village.home) as store:
        row = store.conn.execute(
            "SELECT status, lead_person FROM innovation_case WHERE title = ?",
            ("稻田养虾合作社",)).fetchone()
    assert row == ("submitted", "李红")


async def test_a_problem_with_a_past_deadline_shows_as_overdue_on_the_dashboard(
        village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert screen_name(pilot) == "ProblemFormScreen"
        form = app.screen
        form.query_one("#field-title", Input).value = "村口路灯不亮"
        form.query_one("#field-category", Select).value = "urgent"
        form.query_one("#field-source", Select).value = "residents"
        form.query_one("#field-urgency", Select).value = "high"
        form.query_one("#field-deadline", Input).value = "2026-05-01"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
        ledger = app.screen.query_one("#problem-figures", OptionList)
        overdue = ledger.get_option("problem:overdue")
        assert isinstance(overdue.prompt, Text)
        assert overdue.prompt.plain.rstrip().endswith(" 1")
        assert "超期" in overdue.prompt.plain

        ledger.focus()
        ledger.highlighted = ledger.get_option_index("problem:overdue")
        await pilot.press("enter")
        await settle(pilot)
        assert screen_name(pilot) == "ProblemListScreen"
        table = app.screen.query_one("#rows")
        assert table.row_count == 1
        assert "超期" in table.get_row_at(0)[4].plain
    assert figures(village).problems_overdue == 1


async def test_leaving_a_dirty_form_asks_first(village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "半成品")
        await pilot.press("f3")  # navigating away is refused while the form is dirty
        await pilot.pause()
        assert screen_name(pilot) == "CaseFormScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(pilot) == "ConfirmDialog"
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert screen_name(pilot) == "CaseFormScreen"
        assert app.screen.query_one("#field-title", Input).value == "半成品"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # leave without saving
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
        # An untouched form leaves without a question.
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(pilot) == "DashboardScreen"
    assert village.conn.execute("SELECT COUNT(*) FROM innovation_case").fetchone()[0] == 0


async def test_quitting_with_an_unsaved_form_asks_first(village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "路灯")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert screen_name(pilot) == "ConfirmDialog"
        await pilot.press("n")
        await pilot.pause()
        assert screen_name(pilot) == "ProblemFormScreen"
        assert app.is_running


async def test_a_failed_worker_is_explained_in_a_notification(village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_record("case", "no-such-case")  # e.g. deleted by a merge meanwhile
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert messages == ["没有编号为 no-such-case 的案例"], messages
        assert screen_name(pilot) == "CaseDetailScreen"
        await pilot.press("escape")
        assert screen_name(pilot) == "DashboardScreen"


async def test_a_case_form_with_problems_says_what_to_correct_next_to_each_field(
        village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#field-start_date", Input).value = "明天"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "CaseFormScreen"
        shown = {
            name: app.screen.query_one(f"#error-{name}", Static).render().plain  # type: ignore[union-attr]
            for name in ("title", "lead_person", "direction", "start_date")}
        assert all(shown.values()), shown
        assert shown["title"].startswith("案例名称")


async def test_first_run_sets_the_laptop_up(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    app = the_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(pilot) == "SetupScreen"
        screen = app.screen
        screen.query_one("#unit-code", Input).value = "320117100201"
        screen.query_one("#unit-name", Input).value = "白马村"
        await pilot.press("ctrl+s")
        await settle(pilot)
        # No parent: refused, with the reason on screen.
        assert screen_name(pilot) == "SetupScreen"
        problem = screen.query_one("#setup-problem", Static).render().plain  # type: ignore[union-attr]
        assert problem.startswith("村/社区或科室站所节点需要填写上级单位代码"), problem
        screen.query_one("#parent-code", Input).value = "320117100000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
    with Store(home) as store:
        assert store.node.unit_code == "320117100201"
    assert secret_key_path(home).is_file() and public_key_path(home).is_file()


async def test_keys_typed_in_one_burst_land_in_the_field_each_tab_moved_to(
        tmp_path: Path) -> None:
    """Fast typists, barcode readers and password managers send a field, Tab, the next
    field... faster than the screen handles each key. No key may reach a field it left."""
    app = the_app(tmp_path / "fresh")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(pilot) == "SetupScreen"
        for key in [*"320117100201", "tab", *"白马村", "tab", *"320117100000"]:
            app.post_message(events.Key(key, "\t" if key == "tab" else key))  # no waiting
        await settle(pilot)
        typed = {name: app.screen.query_one(f"#{name}", Input).value
                 for name in ("unit-code", "unit-name", "parent-code")}
        assert typed == {"unit-code": "320117100201", "unit-name": "白马村",
                         "parent-code": "320117100000"}
        for key in ["shift+tab", "乡"]:  # back to the name, whose text Tab selects
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await settle(pilot)
        typed = {name: app.screen.query_one(f"#{name}", Input).value
                 for name in ("unit-code", "unit-name", "parent-code")}
        assert typed == {"unit-code": "320117100201", "unit-name": "乡",
                         "parent-code": "320117100000"}


async def test_the_interface_thread_never_opens_the_database(
        village: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a slow laptop every read belongs on a worker: start-up, navigation by role,
    and set-up included."""
    opened_on: list[str] = []
    real_init = Store.__init__

    def init(self: Store, *args: Any, **kwargs: Any) -> None:
        opened_on.append(threading.current_thread().name)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Store, "__init__", init)
    for home, keys in ((village.home, ["f4", "escape", "f3"]),
                       (tmp_path / "fresh", ["ctrl+d", "f4"])):
        app = the_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot, rounds=6)
            assert screen_name(pilot) in ("CaseListScreen", "ProblemListScreen")
    assert opened_on and threading.main_thread().name not in opened_on, opened_on


async def test_try_with_demo_data_fills_a_demo_village(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    app = the_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+d")
        await settle(pilot, rounds=6)
        assert screen_name(pilot) == "DashboardScreen"
        cases_list = app.screen.query_one("#case-figures", OptionList)
        assert cases_list.get_option("case:all").prompt.plain.rstrip().endswith("40")


async def test_f1_lists_every_key_of_the_current_screen(village: Store) -> None:
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert screen_name(pilot) == "HelpScreen"
        table = app.screen.query_one("#keys")
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
        described = {row[1] for row in rows}
        assert {"搜索", "超期", "帮助", "新增"} <= described
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(pilot) == "ProblemListScreen"


async def test_the_language_switches_in_settings_and_is_remembered(village: Store) -> None:
    app = the_app(village.home, lang=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.title == "首页"
        await pilot.press("f9")
        await settle(pilot)
        app.screen.query_one("#language", Select).value = "en"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
        assert app.screen.title == "Dashboard"
        descriptions = {b.binding.description for b in app.screen.active_bindings.values()}
        assert "New case" in descriptions
    assert village.get_setting("language") == "en"
    from villagebook.i18n import set_language

    set_language("zh")
    app = the_app(village.home, lang=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.title == "Dashboard"  # the saved setting wins over the default


HOSTILE = "[red]x[/] [link=file:///etc]y[/link] \x1b]8;;http://evil\x07z\x1b]8;;\x07\x1b[2J"


async def test_markup_and_escape_sequences_in_titles_are_shown_literally(
        village: Store) -> None:
    case_id = cases.create_case(village, {"title": HOSTILE, "lead_person": "[b]王[/b]",
                                          "direction": "process"})
    problems.create_problem(village, {"title": HOSTILE, "category": "other",
                                      "source": "visit", "urgency": "low",
                                      "reported_date": "2026-05-01"})
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one("#rows")
        title = table.get_row_at(0)[0]
        assert title.plain.startswith("[red]x[/] [link=file:///etc]y[/link] ")
        assert "\x1b" not in title.plain and "\\x1b" in title.plain
        assert not title.spans
        assert table.get_row_at(0)[4].plain == "[b]王[/b]"

        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen.query_one("#detail", Static).render().plain  # type: ignore[union-attr]
        assert "[red]x[/]" in detail and "\x1b" not in detail

        await pilot.press("e")
        await settle(pilot)
        shown = app.screen.query_one("#field-title", Input).value
        assert "[link=file:///etc]" in shown and "\x1b" not in shown
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "red")
        await pilot.pause(0.5)
        await settle(pilot)
        from textual.command import CommandList

        palette = app.screen.query_one(CommandList)
        prompts = [str(palette.get_option_at_index(i).prompt)
                   for i in range(palette.option_count)]
        assert any("[red]x[/]" in prompt and "\x1b" not in prompt for prompt in prompts)
        await pilot.press("escape")
        await pilot.pause()

        app.notify(HOSTILE, markup=False)  # what every screen does with user data
        export = app.export_screenshot()
        assert "\x1b]8" not in export
    with Store(village.home) as store:
        assert cases.get_case(store, case_id)["title"] == HOSTILE


async def test_a_case_links_a_ledger_problem_found_by_its_title(village: Store) -> None:
    problem_id = problems.create_problem(village, {
        "title": "村口路灯不亮", "category": "urgent", "source": "visit", "urgency": "high",
        "reported_date": "2026-05-01"})
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "路灯改造")
        app.screen.query_one("#field-lead_person", Input).value = "张明"
        app.screen.query_one("#field-direction", Select).value = "process"
        await pilot.press("ctrl+l")
        await pilot.pause()
        await type_text(pilot, "路灯")
        await settle(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        linked = app.screen.query_one("#field-linked_problem_ids", Input)
        assert linked.value == problem_id
        linked.value = f"{problem_id}、"  # as typed with a Chinese list separator
        await pilot.press("ctrl+l")
        await pilot.pause()
        await type_text(pilot, "路灯")
        await settle(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert linked.value.count(problem_id) == 1, "picked again: not added twice"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen_name(pilot) == "DashboardScreen"
    row = village.conn.execute("SELECT linked_problem_ids FROM innovation_case").fetchone()
    assert problem_id in row[0]


async def test_a_problem_is_followed_up_moved_along_and_resolved_by_a_case(
        village: Store) -> None:
    village.put_setting("author_name", "王书记")
    case_id = cases.create_case(village, {"title": "路灯夜巡制度", "lead_person": "王",
                                          "direction": "implementation"})
    problem_id = problems.create_problem(village, {
        "title": "村口路灯不亮", "category": "urgent", "source": "visit", "urgency": "high",
        "reported_date": "2026-05-01"})
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_record("problem", problem_id)
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        await type_text(pilot, "已联系电工")
        await pilot.press("ctrl+s")
        await settle(pilot)
        timeline = app.screen.query_one("#timeline", Static).render().plain  # type: ignore[union-attr]
        assert "王书记" in timeline and "已联系电工" in timeline
        for _step in ("studying", "resolving"):
            await pilot.press("m")
            await pilot.pause()
            await pilot.press("enter")  # the only choice: the next status
            await settle(pilot)
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("enter")  # resolved: asks how
        await pilot.pause()
        assert screen_name(pilot) == "TextPromptDialog"
        await type_text(pilot, "更换灯泡")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        await type_text(pilot, "夜巡")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert screen_name(pilot) == "ProblemDetailScreen"
        detail = app.screen.query_one("#detail", Static).render().plain  # type: ignore[union-attr]
        assert "路灯夜巡制度" in detail
    problem = problems.get_problem(village, problem_id)
    assert (problem["status"], problem["resolution"], problem["solved_by_case_id"]) == (
        "resolved", "更换灯泡", case_id)


async def test_a_user_may_remap_keys_by_binding_id(village: Store) -> None:
    village.put_setting("keymap", '{"dashboard.new_case": "insert"}')
    app = the_app(village.home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("insert")
        await settle(pilot)
        assert screen_name(pilot) == "CaseFormScreen"
