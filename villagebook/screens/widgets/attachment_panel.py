"""The attachments of one record, as a list in a detail screen: caption, kind, size,
who attached it and when. Enter opens the selected file with the system's viewer
(from a read-only copy, on a worker); the screen's keys attach and remove.

Every value is user data, shown as literal text (`SafeTable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from villagebook.i18n import _
from villagebook.screens.widgets.safe_table import SafeTable
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers


@dataclass
class AttachmentsRead(Message):
    """The record's attachments were read."""

    items: list[dict[str, Any]]


@dataclass
class AttachmentsChanged(Message):
    """Files were attached or removed: `what` says so, for the user."""

    what: str


@dataclass
class AttachmentOpened(Message):
    """A read-only copy was handed to the system viewer."""

    name: str


def append_evidence(text: Text, lines: list[str]) -> None:
    """The evidence of a case under review or scoring, as lines under a heading
    (nothing when it has none)."""
    if not lines:
        return
    text.append("\n" + _("Attachments ({count})").format(count=len(lines)) + "\n",
                style="bold underline")
    for line in lines:
        text.append("· " + line + "\n")


class AttachmentPanel(ReportsFailedWorkers, Vertical):
    """A record's attachments, read on a worker; attach, remove and open on workers too."""

    DEFAULT_CSS = """
    AttachmentPanel { height: auto; }
    AttachmentPanel > SafeTable { height: auto; max-height: 12; }
    """

    def __init__(self, home: Path, target: str, record_id: str, *,
                 editable: bool = True) -> None:
        super().__init__(id="attachments")
        self.home = home
        self.target = target
        self.record_id = record_id
        self.editable = editable
        self.items: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(_("Attachments"), style="bold underline"), id="attachments-title")
        yield SafeTable(id="attachments-table")

    def on_mount(self) -> None:
        """Columns, then the list."""
        table = self.query_one(SafeTable)
        table.add_columns(_("Caption"), _("Kind of file"), _("Size"), _("Attached by"),
                          _("Attached at"))
        table.display = False
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="attachments-read")
    def reload(self) -> None:
        """Read the record's attachments."""
        from villagebook.services.attachments import attachments_of
        from villagebook.store.node import Store

        with Store(self.home) as store:
            self.post_message(AttachmentsRead(attachments_of(store, self.target,
                                                             self.record_id)))

    def on_attachments_read(self, message: AttachmentsRead) -> None:
        """Show the list (or say there is none)."""
        from villagebook.services.attachments import kind_label
        from villagebook.services.messages import human_size

        message.stop()
        self.items = message.items
        table = self.query_one(SafeTable)
        table.clear()
        for item in message.items:
            table.add_safe_row(item["caption"] or item["name"], kind_label(item["kind"]),
                               human_size(item["size"]),
                               str(item["attached_by"] or "").split("/")[0],
                               str(item["attached_at"] or "").replace("T", " ")[:16],
                               key=item["id"])
        table.display = bool(message.items)
        title = (_("Attachments ({count}) · Enter opens, p previews a photo").format(
            count=len(message.items)) if message.items else _("Attachments: none"))
        self.query_one("#attachments-title", Static).update(Text(title, style="bold underline"))

    def selected(self) -> dict[str, Any] | None:
        """The attachment under the cursor, if any."""
        table = self.query_one(SafeTable)
        if not self.items or not table.display:
            return None
        row = table.cursor_row
        return self.items[row] if 0 <= row < len(self.items) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: open the selected file."""
        event.stop()
        item = self.selected()
        if item is not None:
            self.open_file(item["id"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="attachments-open")
    def open_file(self, attachment_id: str) -> None:
        """Hand a read-only copy to the system viewer (refusals reach the app)."""
        from villagebook.services.attachments import get_attachment, open_in_viewer
        from villagebook.store.node import Store

        with Store(self.home) as store:
            open_in_viewer(store, attachment_id)
            self.post_message(AttachmentOpened(get_attachment(store, attachment_id)["name"]))

    def on_attachment_opened(self, message: AttachmentOpened) -> None:
        """Say so: the viewer may take a moment to appear."""
        from villagebook.services.messages import safe_text

        message.stop()
        self.notify(_("Opening {name} in the system viewer").format(
            name=safe_text(message.name)), markup=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="attachments-change")
    def attach(self, paths: list[Path], caption: str) -> None:
        """Attach files (all or none; a refusal names the file and reaches the app)."""
        from villagebook.services.attachments import attach
        from villagebook.store.node import Store

        with Store(self.home) as store:
            ids = attach(store, self.target, self.record_id, paths, caption=caption)
        self.post_message(AttachmentsChanged(_("{count} files attached").format(
            count=len(ids))))

    @work(thread=True, exclusive=True, exit_on_error=False, group="attachments-change")
    def remove_file(self, attachment_id: str) -> None:
        """Remove one attachment (a tombstone that travels)."""
        from villagebook.services.attachments import remove
        from villagebook.store.node import Store

        with Store(self.home) as store:
            remove(store, attachment_id)
        self.post_message(AttachmentsChanged(_("Attachment removed")))

    def on_attachments_changed(self, message: AttachmentsChanged) -> None:
        """Say what happened and read the list again."""
        message.stop()
        self.notify(message.what, markup=False)
        self.reload()


class AttachesFiles:
    """Mix into a detail screen holding an `AttachmentPanel`: its attach and remove keys."""

    def _panel(self) -> AttachmentPanel:
        return self.query_one(AttachmentPanel)  # type: ignore[attr-defined,no-any-return]

    def action_attach(self) -> None:
        """Pick files, then attach them."""
        from villagebook.screens.file_picker import FilePickerScreen, PickedFiles

        def picked(choice: PickedFiles | None) -> None:
            if choice is not None:
                self._panel().attach(choice.paths, choice.caption)

        self.app.push_screen(FilePickerScreen(), picked)  # type: ignore[attr-defined]

    def _chosen(self) -> dict[str, Any] | None:
        """The attachment under the list's cursor; a hint when there is none."""
        item = self._panel().selected()
        if item is None:
            self.notify(_("Select an attachment in the list first (Tab moves there)"),  # type: ignore[attr-defined]
                        markup=False, severity="warning")
        return item

    def action_preview(self) -> None:
        """Draw the selected photo in the terminal."""
        from villagebook.screens.photo_preview import PhotoPreviewScreen
        from villagebook.services.messages import safe_text

        item = self._chosen()
        if item is None:
            return
        self.app.push_screen(PhotoPreviewScreen(  # type: ignore[attr-defined]
            self._panel().home, item["id"], safe_text(item["caption"] or item["name"])))

    def action_detach(self) -> None:
        """Ask, then remove the selected attachment."""
        from villagebook.screens.confirm_dialog import ConfirmDialog
        from villagebook.services.messages import safe_text

        item = self._chosen()
        if item is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._panel().remove_file(item["id"])

        self.app.push_screen(ConfirmDialog(  # type: ignore[attr-defined]
            _("Remove the attachment {name}? The removal is also sent to the township.")
            .format(name=safe_text(item["caption"] or item["name"])),
            yes=_("Remove"), no=_("Keep it")), answered)
