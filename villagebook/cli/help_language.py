"""`--help` and click's own messages in the user's language.

Click marks its messages ("Usage:", "No such option…", "Missing option") for GNU
gettext, which would need compiled catalogs under the "messages" domain; instead
each click module's `_` and `ngettext` are pointed at our catalogs (msgids in
`locale/zh/cli.po`, plural forms listed as two msgids, Chinese having one form).
Our own help texts are English msgids too: a command's help, its short help in
the group's list and each option's help are translated only while help is
formatted, so the commands keep their English source for the docs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from villagebook.i18n import _

_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui",
                  "types", "utils")


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _(singular if count == 1 else plural)


def install() -> None:
    """Route click's messages through our translation layer (idempotent)."""
    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _ngettext  # type: ignore[attr-defined]


def translated(text: str | None) -> str | None:
    """A help text in the current language (the msgid is its cleaned-up English)."""
    if not text:
        return text
    return _(inspect.cleandoc(text))


@contextmanager
def translated_help(command: click.Command, ctx: click.Context) -> Iterator[None]:
    """While help is formatted: `command`'s, its options' and its subcommands' help
    texts in the current language; afterwards the English source again."""
    saved: list[tuple[Any, str, Any]] = []
    targets: list[Any] = [command, *command.params]
    if isinstance(command, click.Group):
        targets += [command.get_command(ctx, name) for name in command.list_commands(ctx)]
    for target in targets:
        for attribute in ("help", "short_help"):
            value = getattr(target, attribute, None)
            if isinstance(value, str):
                saved.append((target, attribute, value))
                setattr(target, attribute, translated(value))
    try:
        yield
    finally:
        for target, attribute, value in saved:
            setattr(target, attribute, value)


class TranslatedCommand(click.Command):
    """A command whose help is shown in the user's language."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with translated_help(self, ctx):
            super().format_help(ctx, formatter)


class TranslatedGroup(click.Group):
    """A group whose help, and its commands' short help, are in the user's language."""

    command_class = TranslatedCommand

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with translated_help(self, ctx):
            super().format_help(ctx, formatter)


TranslatedGroup.group_class = TranslatedGroup
