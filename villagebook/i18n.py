"""The translation layer: every user-visible string passes through `_()`.

Msgids are English. Translations live in standard gettext `.po` catalogs under
`villagebook/locale/<lang>/` (one file per part of the app: `core.po`,
`tui.po`, `sync.po`…, merged at load), which translators edit with any PO
editor; we read them directly so no compile step stands between an edit and
the app.

Sentences are whole msgids with `{named}` placeholders, filled after
translation: `_("Imported {count} cases").format(count=n)`.
"""

from __future__ import annotations

import ast
import locale
import os
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
_CATALOG_DIR = Path(__file__).parent / "locale"
_current = "zh"


def _unquote(token: str) -> str:
    value = ast.literal_eval(token)
    assert isinstance(value, str)
    return value


@cache
def catalog(lang: str) -> dict[str, str]:
    """The msgid → translation mapping of `lang` (empty for English, the source language)."""
    entries: dict[str, str] = {}
    if lang == "en":
        return entries
    for path in sorted((_CATALOG_DIR / lang).glob("*.po")):
        entries.update(_read_po(path))
    return entries


def _read_po(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    msgid: list[str] = []
    msgstr: list[str] = []
    current: list[str] | None = None

    def flush() -> None:
        key, value = "".join(msgid), "".join(msgstr)
        if key and value:
            entries[key] = value

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            flush()
            msgid, msgstr = [_unquote(line[6:])], []
            current = msgid
        elif line.startswith("msgstr "):
            msgstr = [_unquote(line[7:])]
            current = msgstr
        elif line.startswith('"') and current is not None:
            current.append(_unquote(line))
    flush()
    return entries


def translate(msgid: str, lang: str) -> str:
    """`msgid` in `lang`, falling back to the English msgid itself."""
    return catalog(lang).get(msgid, msgid)


def _(msgid: str) -> str:
    """`msgid` in the current language."""
    return translate(msgid, _current)


def N_(msgid: str) -> str:
    """Mark `msgid` for translation without translating it now (translated when shown)."""
    return msgid


class Term(str):
    """A msgid given as a message parameter (a field's or a kind's label): it is
    translated when the message is shown, like the message itself."""


def set_language(lang: str) -> None:
    """Switch the language of everything shown from now on."""
    global _current
    if lang not in LANGUAGES:
        raise ValueError(lang)
    _current = lang


def current_language() -> str:
    """The language in force ("zh" or "en")."""
    return _current


def detect_language() -> str:
    """The system locale's language: English where it says so, Chinese otherwise.

    Chinese is the fallback because the users are Chinese offices, and an
    unconfigured Windows laptop or a bare `C` locale says nothing useful.
    """
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    # No locale variables: Windows keeps its language elsewhere ("English_United States").
    try:
        system = locale.getlocale()[0] or ""
    except ValueError:
        system = ""
    return "en" if system.lower().startswith("en") else "zh"
