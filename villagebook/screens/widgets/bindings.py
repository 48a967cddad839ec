"""Binding descriptions are English msgids on the class and translated per instance,
so a new screen speaks the language chosen a moment ago in the settings."""

from __future__ import annotations

from dataclasses import replace

from textual.dom import DOMNode

from villagebook.i18n import _


def translate_bindings(node: DOMNode) -> None:
    """Translate the descriptions and tooltips of `node`'s bindings into the current language."""
    bindings = node._bindings
    for key, entries in list(bindings.key_to_bindings.items()):
        bindings.key_to_bindings[key] = [
            replace(entry, description=_(entry.description) if entry.description else "",
                    tooltip=_(entry.tooltip) if entry.tooltip else "")
            for entry in entries
        ]
