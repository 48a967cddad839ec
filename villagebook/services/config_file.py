"""The user's own settings of the interface, in a file people can read and edit:
the theme and the keys they remapped.

    theme = "textual-light"

    [keys]
    "list.new" = "insert"      # binding id = keys (F1 lists the ids)

The laptop's own home keeps it in the platformdirs config folder
(`~/.config/villagebook/config.toml`, `%LOCALAPPDATA%\\villagebook\\config.toml`);
a home chosen with `--home` or $VILLAGEBOOK_HOME keeps its own `<home>/config.toml`
(homes are separate laptops). `villagebook config path` prints where. A file that
cannot be read is ignored (the defaults apply) rather than keeping the app shut.
Written with temp file + fsync + rename, so a crash leaves the old or the new file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
from platformdirs import user_config_path, user_data_path

FILE_NAME = "config.toml"


@dataclass(frozen=True)
class InterfaceConfig:
    """What the file holds: a theme name (None: the default) and binding id → keys."""

    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)


def config_path(home: Path) -> Path:
    """Where the config file of `home` lives (it may not exist yet)."""
    own = user_data_path("villagebook", appauthor=False)
    if home.expanduser().resolve() == own.resolve():
        return user_config_path("villagebook", appauthor=False) / FILE_NAME
    return home / FILE_NAME


def read_config(home: Path) -> InterfaceConfig:
    """The config of `home`; the defaults if the file is missing or unreadable."""
    try:
        document = tomllib.loads(config_path(home).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return InterfaceConfig()
    theme = document.get("theme")
    keys = document.get("keys")
    return InterfaceConfig(
        theme if isinstance(theme, str) and theme.strip() else None,
        {str(k): v for k, v in keys.items() if isinstance(v, str) and v.strip()}
        if isinstance(keys, dict) else {})


def render(config: InterfaceConfig) -> str:
    """The file's text (TOML; strings quoted as JSON, which TOML reads alike)."""
    lines = ["# VillageBook interface settings (see README: the config file)."]
    if config.theme:
        lines.append(f"theme = {json.dumps(config.theme, ensure_ascii=False)}")
    lines += ["", "[keys]"]
    lines += [f"{json.dumps(k, ensure_ascii=False)} = {json.dumps(v, ensure_ascii=False)}"
              for k, v in sorted(config.keys.items())]
    return "\n".join(lines) + "\n"


def write_config(home: Path, config: InterfaceConfig) -> Path:
    """Replace the config file of `home` in one step; returns its path."""
    path = config_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(render(config))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def parse_keys(text: str) -> dict[str, str]:
    """A keymap typed on one line, `list.new=insert; app.quit=ctrl+q,f10`; ValueError names
    the first entry without `=`."""
    keys: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.replace("；", ";").split(";"))):
        binding, sep, value = entry.partition("=")
        if not sep or not binding.strip() or not value.strip():
            raise ValueError(entry)
        keys[binding.strip()] = value.strip()
    return keys


def format_keys(keys: dict[str, str]) -> str:
    """The keymap as `parse_keys` reads it."""
    return "; ".join(f"{binding}={value}" for binding, value in sorted(keys.items()))
