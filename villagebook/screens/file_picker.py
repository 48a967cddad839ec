"""Choose files to attach: a folder tree that starts in the user's home and can go to
any folder (a USB stick under /media, a phone's mounted folder), plus a caption.

Enter on a file marks it (or unmarks it); Ctrl+S attaches the marked files with the
caption. Dismisses with `PickedFiles`, or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text, TextType
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.services.messages import safe_text


@dataclass(frozen=True)
class PickedFiles:
    """The files the user chose and the caption for them."""

    paths: list[Path]
    caption: str


class SafeDirectoryTree(DirectoryTree):
    """A folder tree whose names are shown literally (escapes made visible), hidden
    files left out."""

    def process_label(self, label: TextType) -> Text:
        """A name as literal, harmless text."""
        plain = label.plain if isinstance(label, Text) else label
        return Text(safe_text(plain))

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Hidden files and folders are not evidence."""
        return [path for path in paths if not path.name.startswith(".")]


class FilePickerScreen(ModalScreen[PickedFiles | None]):
    """Mark files in a folder tree, write a caption, attach."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "confirm", N_("Attach"), id="picker.attach",
                tooltip=N_("Attach the marked files"), priority=True),
        Binding("ctrl+t", "go", N_("Go to folder"), id="picker.go",
                tooltip=N_("Type a folder to show, such as /media"), priority=True),
        Binding("ctrl+u", "up", N_("Parent folder"), id="picker.up",
                tooltip=N_("Show the folder above this one"), priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="picker.cancel",
                tooltip=N_("Close without attaching")),
    ]

    def __init__(self, start: Path | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.start = start or Path.home()
        self.marked: list[Path] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog file-picker"):
            yield Static(Text(_("Choose the files to attach")), classes="dialog-title")
            yield Input(str(self.start), id="folder", placeholder=_("Folder"))
            yield SafeDirectoryTree(self.start, id="tree")
            yield Static(Text(_("Nothing marked yet")), id="marked")
            yield Input("", id="caption", placeholder=_("Caption (说明), for every marked file"))
            yield Static(Text(_("Enter marks a file · Ctrl+S attach · Ctrl+T go to a folder · "
                                "Ctrl+U parent folder · Esc cancel")), classes="hint")

    def on_mount(self) -> None:
        """Start in the tree."""
        self.query_one("#tree").focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        """Mark or unmark the chosen file."""
        event.stop()
        path = event.path
        if path in self.marked:
            self.marked.remove(path)
        else:
            self.marked.append(path)
        self._show_marked()

    def _show_marked(self) -> None:
        if not self.marked:
            shown = _("Nothing marked yet")
        else:
            shown = _("Marked: {names}").format(
                names=", ".join(safe_text(path.name) for path in self.marked))
        self.query_one("#marked", Static).update(Text(shown))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the folder box shows that folder; in the caption box, attaches."""
        if event.input.id == "folder":
            self._show_folder(Path(event.value).expanduser())
        else:
            self.action_confirm()

    def _show_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            self.notify(_("{path} is not a folder").format(path=safe_text(folder)),
                        markup=False, severity="warning")
            return
        tree = self.query_one("#tree", SafeDirectoryTree)
        tree.path = folder
        self.query_one("#folder", Input).value = str(folder)
        tree.focus()

    def action_go(self) -> None:
        """Type a folder."""
        self.query_one("#folder", Input).focus()

    def action_up(self) -> None:
        """The folder above the one shown."""
        current = Path(self.query_one("#tree", SafeDirectoryTree).path)
        self._show_folder(current.resolve().parent)

    def action_confirm(self) -> None:
        """Attach the marked files (at least one)."""
        if not self.marked:
            self.notify(_("Mark a file first (Enter on its name)"), markup=False,
                        severity="warning")
            return
        self.dismiss(PickedFiles(list(self.marked),
                                 self.query_one("#caption", Input).value.strip()))

    def action_cancel(self) -> None:
        """Nothing attached."""
        self.dismiss(None)
