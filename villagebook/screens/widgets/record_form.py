"""A form built from an entity's `Field`s: one input per field, its label above,
its validation message right under it.

Values go to the services as typed (text, codes, lists, booleans); the domain's
`validate()` parses them, so the form never guesses at the rules.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select, SelectionList, Static, TextArea

from villagebook.domain.fields import Entity, Field, Kind
from villagebook.i18n import _
from villagebook.services.messages import safe_text


def _label(spec: Field) -> Text:
    text = Text(_(spec.label))
    if spec.required:
        text.append(" *", style="bold red")
    return text


def _widget(spec: Field) -> Widget:
    wid = f"field-{spec.name}"
    if spec.kind is Kind.LONGTEXT:
        return TextArea("", id=wid, soft_wrap=True, show_line_numbers=False, compact=True)
    if spec.kind is Kind.CHOICE and spec.choices is not None:
        options = [(Text(_(member.label)), member.value) for member in spec.choices]
        return Select(options, id=wid, prompt=_("Choose…"), allow_blank=True, compact=True)
    if spec.kind is Kind.CHOICES and spec.choices is not None:
        return SelectionList[str](*((Text(_(m.label)), m.value) for m in spec.choices), id=wid,
                                  compact=True)
    if spec.kind is Kind.BOOL:
        return Checkbox(Text(_(spec.label)), id=wid)
    placeholder = {Kind.DATE: _("YYYY-MM-DD, e.g. 2026-03-01"),
                   Kind.REFS: _("Ctrl+L finds and adds one (ids, separated by commas)"),
                   Kind.REF: _("A record id")}.get(spec.kind, "")
    return Input("", id=wid, placeholder=placeholder, max_length=spec.max_length or 0,
                 compact=True)


class RecordForm(VerticalScroll):
    """Every editable field of `entity` (minus `skip`), in declaration order."""

    def __init__(self, entity: Entity, skip: tuple[str, ...], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="form-scroll")
        self.entity = entity
        self.specs = [spec for spec in entity.fields if spec.name not in skip]
        self.initial: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        for spec in self.specs:
            yield Static(_label(spec), classes="field-label")
            yield _widget(spec)
            yield Static("", id=f"error-{spec.name}", classes="field-error")

    def load(self, record: dict[str, Any] | None) -> None:
        """Show a record's values (or blanks) and remember them to detect changes."""
        for spec in self.specs:
            self._set(spec, (record or {}).get(spec.name))
        self.initial = self.values()

    def _set(self, spec: Field, value: Any) -> None:
        widget = self.query_one(f"#field-{spec.name}")
        # Stored control characters are shown escaped (never sent to the terminal); an
        # untouched field is not written back, so the stored value stays as it was.
        if isinstance(widget, TextArea):
            widget.load_text("\n".join(safe_text(line) for line in str(value or "").split("\n")))
        elif isinstance(widget, Select):
            widget.value = value if value else Select.NULL
        elif isinstance(widget, SelectionList):
            widget.deselect_all()
            for code in value or []:
                widget.select(code)
        elif isinstance(widget, Checkbox):
            widget.value = bool(value)
        elif isinstance(widget, Input):
            shown = ", ".join(value) if isinstance(value, list) else str(value or "")
            widget.value = safe_text(shown)

    def values(self) -> dict[str, Any]:
        """What the form holds now, field by field."""
        found: dict[str, Any] = {}
        for spec in self.specs:
            widget = self.query_one(f"#field-{spec.name}")
            if isinstance(widget, TextArea):
                found[spec.name] = widget.text.strip()
            elif isinstance(widget, Select):
                found[spec.name] = widget.value if isinstance(widget.value, str) else ""
            elif isinstance(widget, SelectionList):
                found[spec.name] = sorted(str(code) for code in widget.selected)
            elif isinstance(widget, Checkbox):
                found[spec.name] = widget.value
            elif isinstance(widget, Input):
                found[spec.name] = widget.value.strip()
        return found

    def changes(self) -> dict[str, Any]:
        """Fields whose value differs from what was loaded."""
        current = self.values()
        return {name: value for name, value in current.items()
                if value != self.initial.get(name)}

    @property
    def dirty(self) -> bool:
        """Whether anything was changed since loading."""
        return bool(self.initial) and bool(self.changes())

    def show_errors(self, errors: dict[str, str]) -> None:
        """Each field's problem under it; the first field with a problem gets the focus."""
        first = None
        for spec in self.specs:
            label = self.query_one(f"#error-{spec.name}", Static)
            message = errors.get(spec.name)
            label.update(Text(safe_text(message or "")))
            label.set_class(bool(message), "shown")
            if message and first is None:
                first = spec.name
        if first is not None:
            widget = self.query_one(f"#field-{first}")
            widget.focus()
            self.scroll_to_widget(widget)
