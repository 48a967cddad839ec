"""A photo attachment drawn in the terminal, for a quick look without leaving the app.

Every terminal can show it: each character cell is an upper half block whose
foreground is the upper pixel and whose background the lower one. The photo is
read and scaled on a worker (never on the interface thread), and drawn again
when the terminal is resized. Esc (or p) goes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers

if TYPE_CHECKING:  # Pillow loads only when a photo is drawn, not at start-up
    from villagebook.services.media import Cell

_HALF = "▀"


@dataclass
class PhotoDrawn(Message):
    """The photo was scaled to the preview's size (`cells`), or refused (`refusal`)."""

    cells: list[list[Cell]]
    refusal: str = ""


def half_blocks(cells: list[list[Cell]]) -> Text:
    """The cells as text: one upper half block per cell, coloured above and below."""
    text = Text(no_wrap=True, overflow="crop")
    styles: dict[Cell, Style] = {}
    for number, row in enumerate(cells):
        if number:
            text.append("\n")
        for cell in row:
            style = styles.get(cell)
            if style is None:
                style = styles[cell] = Style(color=Color.from_rgb(*cell[0]),
                                             bgcolor=Color.from_rgb(*cell[1]))
            text.append(_HALF, style)
    return text


class PhotoPreviewScreen(ReportsFailedWorkers, ModalScreen[None]):
    """One photo attachment, drawn in half blocks over the screen it was opened from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,p", "dismiss", N_("Back"), id="preview.back",
                tooltip=N_("Back to the attachments")),
    ]
    DEFAULT_CSS = """
    PhotoPreviewScreen { align: center middle; }
    PhotoPreviewScreen > Vertical {
        width: 100%; height: 100%; padding: 0 1; background: $surface;
    }
    PhotoPreviewScreen #preview-title { height: 1; text-style: bold; }
    PhotoPreviewScreen #preview-picture { height: 1fr; }
    """

    def __init__(self, home: Path, attachment_id: str, caption: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.attachment_id = attachment_id
        self.caption = caption

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.caption + "  ·  " + _("Esc goes back")), id="preview-title")
            yield Static(Text(_("Drawing the photo…")), id="preview-picture")

    def on_resize(self, event: events.Resize) -> None:
        """Draw (again) for the room there is now."""
        self.draw(max(1, event.size.width - 2), max(1, event.size.height - 1))

    @work(thread=True, exclusive=True, exit_on_error=False, group="photo-preview")
    def draw(self, columns: int, rows: int) -> None:
        """Read and scale the photo to `columns` x `rows` cells."""
        from villagebook.services.attachments import preview
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe
        from villagebook.store.node import Store

        with Store(self.home) as store:
            try:
                cells = preview(store, self.attachment_id, columns, rows)
            except Refused as refusal:
                self.post_message(PhotoDrawn([], describe(refusal)))
                return
        self.post_message(PhotoDrawn(cells))

    def on_photo_drawn(self, message: PhotoDrawn) -> None:
        """Show the picture, or why there is none."""
        picture = self.query_one("#preview-picture", Static)
        picture.update(Text(message.refusal) if message.refusal else half_blocks(message.cells))
