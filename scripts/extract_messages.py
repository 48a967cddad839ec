"""Collect every msgid in the package and add the missing ones to the catalogs.

Msgids are: string arguments of `_()`, `ngettext()`-free by design; the first
string argument of `Refused(...)`, `_Refused(...)` and the second of
`FieldError(...)`; labels of `Choice` members, `Field`s and `Entity`s; and
entries of `msgids = (...)` tuples. Run `python scripts/extract_messages.py`
(or `make messages`); new msgids get an empty msgstr for translators, appended
to `villagebook/locale/<lang>/<part>.po` (`--part core` by default).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "villagebook"
CATALOGS = ("zh",)
_FIRST_ARG = {"_", "Refused", "_Refused", "N_"}


def _call_name(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def _text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return left + right if left is not None and right is not None else None
    return None


def msgids_in(source: str) -> set[str]:
    """Every msgid in one module's source."""
    found: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            args = node.args
            if name in _FIRST_ARG and args:
                text = _text(args[0])
            elif name in ("FieldError", "Field") and len(args) > 1:
                text = _text(args[1])
            else:
                text = None
            for keyword in node.keywords:
                if keyword.arg == "label":
                    label = _text(keyword.value)
                    if label:
                        found.add(label)
            if text:
                found.add(text)
        elif isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id == "Choice" for base in node.bases
        ):
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Tuple):
                    label = _text(item.value.elts[-1])
                    if label:
                        found.add(label)
    return found


def all_msgids() -> set[str]:
    """Every msgid in the package."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        found |= msgids_in(path.read_text(encoding="utf-8"))
    return found


def _po_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def update_catalog(lang: str, part: str = "core") -> list[str]:
    """Append missing msgids to `lang`'s catalog file `part`; returns what was added."""
    sys.path.insert(0, str(ROOT))
    from villagebook.i18n import catalog

    path = PACKAGE / "locale" / lang / f"{part}.po"
    known = set(catalog(lang))
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line for line in text.splitlines() if line.startswith("msgid ")}
    missing = sorted(m for m in all_msgids() - known if f"msgid {_po_quote(m)}" not in present)
    if missing:
        with path.open("a", encoding="utf-8") as handle:
            for msgid in missing:
                handle.write(f"\nmsgid {_po_quote(msgid)}\nmsgstr \"\"\n")
    return missing


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", default="core", help="catalog file to append to")
    options = parser.parse_args()
    for code in CATALOGS:
        added = update_catalog(code, options.part)
        print(f"{code}: {len(added)} new msgids")
        for msgid in added:
            print(f"  {msgid}")
