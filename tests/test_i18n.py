"""The translation layer: every msgid in the code has a Chinese translation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from villagebook.i18n import _, catalog, set_language, translate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from extract_messages import all_msgids


def test_every_msgid_has_a_chinese_translation() -> None:
    missing = sorted(all_msgids() - set(catalog("zh")))
    assert not missing, f"untranslated (run make messages and translate): {missing}"


def test_translations_keep_their_placeholders() -> None:
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    broken = {msgid: text for msgid, text in catalog("zh").items()
              if fields(msgid) != fields(text)}
    assert not broken


def test_switching_language_changes_what_is_shown() -> None:
    try:
        set_language("en")
        assert _("Case title") == "Case title"
        set_language("zh")
        assert _("Case title") == "案例名称"
    finally:
        set_language("zh")
    assert translate("Draft", "en") == "Draft"
    with pytest.raises(ValueError):
        set_language("fr")
