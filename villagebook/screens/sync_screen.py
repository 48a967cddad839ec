"""The Sync screen: export a bundle to a folder (a USB stick), merge every bundle
found in a folder, with a progress bar and a table of what each bundle did.

Every database call runs in a worker thread with its own store; results come
back as messages. File names and reasons are user data: shown as `Text`, never
parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Static

from villagebook.i18n import N_, _
from villagebook.screens.widgets.bindings import translate_bindings
from villagebook.screens.widgets.worker_errors import ReportsFailedWorkers
from villagebook.services.messages import safe_text


@dataclass
class BundleExported(Message):
    """A bundle was written (`path`), or refused (`problem`)."""

    path: str | None
    problem: str | None = None
    #: Own changes re-dated first (the laptop's clock had been set right).
    redated: int = 0
    #: How many devices of the receiver it was encrypted to (0: plain), and the receiver.
    encrypted_to: int = 0
    receiver: str = ""
    #: More than one bundle could carry: written in this many parts (`path` the first).
    parts: int = 1


@dataclass
class MergeStarted(Message):
    """Merging began: `total` bundle files were found."""

    total: int


@dataclass
class BundleMerged(Message):
    """One bundle was merged, found already merged, or rejected."""

    row: tuple[str, str, str, str, str, str, str, str]


@dataclass
class MergeAdvanced(Message):
    """Part of a large bundle was applied: `done` bundles plus a fraction."""

    done: float


@dataclass
class MergeFinished(Message):
    """Every bundle of the folder was handled; `notes` lists changes held aside, and gaps."""

    notes: list[str]


def _status_label(status: str) -> str:
    labels = {"merged": _("merged"), "already": _("already merged"),
              "verified": _("verified"), "rejected": _("rejected")}
    return labels.get(status, status)


class SyncScreen(ReportsFailedWorkers, Screen[None]):
    """Export to and import from a folder, e.g. a USB stick."""

    DEFAULT_CSS = """
    SyncScreen #paths { height: auto; }
    SyncScreen #paths Label { padding: 1 1 0 1; }
    SyncScreen #folder { width: 1fr; }
    SyncScreen #receiver { width: 20; }
    SyncScreen #results { height: 1fr; }
    SyncScreen #status { height: auto; background: $boost; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not F2/F3: those mean the dashboard and the cases on every screen. Priority, so
        # they work while the folder box has the focus (End still moves to its end).
        Binding("ctrl+e", "export", N_("Export"), id="sync.export", priority=True,
                tooltip=N_("Write a signed bundle into the folder")),
        Binding("ctrl+r", "merge", N_("Import all"), id="sync.merge", priority=True,
                tooltip=N_("Merge every bundle found in the folder")),
        Binding("escape", "app.pop_screen", N_("Back"), id="sync.back",
                tooltip=N_("Back to the previous screen")),
    ]

    def __init__(self, home: Path, folder: Path | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.home = home
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Horizontal(id="paths"):
            yield Label(_("Folder"))
            yield Input(str(self.folder or ""), placeholder=_("e.g. E:\\ or /media/usb"),
                        id="folder")
            yield Label(_("To unit"))
            yield Input("", placeholder=_("parent"), id="receiver")
        # Still until an import starts: an indeterminate bar pulses forever, which reads as
        # "busy" and redraws the screen on a laptop that should be idle.
        yield ProgressBar(total=1, id="progress", show_eta=False)
        table: DataTable[Text] = DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(Text(_("Ctrl+E exports, Ctrl+R imports every bundle in the folder")),
                     id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Columns of the result table."""
        self.title = _("Sync")
        self.query_one("#results", DataTable).add_columns(
            _("File"), _("From"), _("Result"), _("New"), _("Updated"), _("Conflicts"),
            _("Reason"), _("Layer"))

    def _folder(self) -> Path | None:
        text = self.query_one("#folder", Input).value.strip()
        return Path(text) if text else None

    def _say(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def action_export(self) -> None:
        """Export a bundle for the receiver (default: the parent) into the folder."""
        folder = self._folder()
        if folder is None:
            self._say(_("Choose a folder first"))
            return
        receiver = self.query_one("#receiver", Input).value.strip() or None
        self._say(_("Exporting…"))
        self.export_bundle(folder, receiver)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync")
    def export_bundle(self, folder: Path, receiver: str | None) -> None:
        """Write the bundle on a worker thread."""
        from villagebook.services.errors import Refused
        from villagebook.services.messages import describe
        from villagebook.store.node import Store
        from villagebook.sync.bundle_files import TooManyFiles
        from villagebook.sync.export import export_bundle, export_parts
        from villagebook.sync.split import APP_PART_SIZE

        try:
            with Store(self.home) as store:
                try:
                    results = [export_bundle(store, receiver, folder)]
                except TooManyFiles:  # more than one bundle may carry: the parts it needs
                    results = export_parts(store, receiver, folder, max_size=APP_PART_SIZE)
                redated = store.redated
            result = results[0]
            self.post_message(BundleExported(str(result.path), redated=redated,
                                             encrypted_to=len(result.encrypted_to),
                                             receiver=result.receiver, parts=len(results)))
        except (Refused, OSError) as error:
            self.post_message(BundleExported(None, describe(error)))

    def on_bundle_exported(self, message: BundleExported) -> None:
        """Say where the bundle went, or why not."""
        if message.path is None:
            self._say(_("Not exported: {reason}").format(reason=message.problem))
        elif message.parts > 1:
            from villagebook.sync.split import APP_PART_SIZE

            self._say(_("Too much for one bundle: written as {count} bundles of at most "
                        "{size} MB each into {folder}; the receiver merges them all, in any "
                        "order").format(count=message.parts, size=APP_PART_SIZE >> 20,
                                        folder=str(Path(message.path).parent)))
        elif message.encrypted_to:
            self._say(_("Bundle written, encrypted to {count} devices of unit {unit}: {path}")
                      .format(count=message.encrypted_to, unit=message.receiver,
                              path=message.path))
        else:
            self._say(_("Bundle written, not encrypted: {path}").format(path=message.path))
        if message.redated:
            from villagebook.services.clock import redated_notice

            self.notify(redated_notice(message.redated), markup=False, timeout=15)

    def action_merge(self) -> None:
        """Merge every bundle in the folder."""
        folder = self._folder()
        if folder is None or not folder.is_dir():
            self._say(_("Choose a folder that exists"))
            return
        self.query_one("#results", DataTable).clear()
        self._say(_("Importing…"))
        self.merge_folder(folder)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync")
    def merge_folder(self, folder: Path) -> None:
        """Merge each bundle in its own transaction, reporting as it goes."""
        from villagebook.services.messages import describe
        from villagebook.store.node import Store
        from villagebook.sync.merge import merge_file

        paths = sorted(p for p in folder.rglob("*.vbundle") if p.is_file())
        self.post_message(MergeStarted(len(paths)))
        with Store(self.home) as store:
            names = dict(store.conn.execute("SELECT code, name FROM unit").fetchall())
            held: list[str] = []
            for index, path in enumerate(paths):
                def advanced(sets: int, total: int, index: int = index) -> None:
                    self.post_message(MergeAdvanced(index + sets / max(total, 1)))

                result = merge_file(store, path, progress=advanced)
                names.update(store.conn.execute("SELECT code, name FROM unit").fetchall())
                # A bundle merged without some relayed segment: say which, and why.
                reason = describe(result.error) if result.error else "; ".join(
                    _("Refused segment {segment} from unit {origin} in {file}: {reason}").format(
                        segment=r.segment, origin=r.origin or "?", file=path.name,
                        reason=describe(r.error)) for r in result.refused_segments)
                self.post_message(BundleMerged((
                    path.name, str(names.get(result.origin, result.origin)),
                    _status_label(result.status), str(result.new), str(result.updated),
                    str(result.conflicts), reason,
                    _("encrypted") if result.encrypted else _("plain"))))
                held += _held_aside(result, names)
            self.post_message(MergeFinished(held + _gaps(store, names)))

    def on_merge_started(self, message: MergeStarted) -> None:
        """Size the progress bar."""
        self.query_one("#progress", ProgressBar).update(total=max(message.total, 1),
                                                        progress=0)
        if not message.total:
            self._say(_("No bundles in this folder"))

    def on_merge_advanced(self, message: MergeAdvanced) -> None:
        """Move the bar within a large bundle."""
        self.query_one("#progress", ProgressBar).update(progress=message.done)

    def on_bundle_merged(self, message: BundleMerged) -> None:
        """One more row, one more step."""
        table = self.query_one("#results", DataTable)
        # File and unit names come from the stick and from peers: escapes shown, not sent.
        table.add_row(*(Text(safe_text(cell)) for cell in message.row))
        self.query_one("#progress", ProgressBar).update(progress=table.row_count)

    def on_merge_finished(self, message: MergeFinished) -> None:
        """Say what is still missing, if anything."""
        rows = self.query_one("#results", DataTable).row_count
        lines = [_("{count} bundles handled").format(count=rows),
                 *(safe_text(note) for note in message.notes)]
        self._say("\n".join(lines))



def _held_aside(result: Any, names: dict[str, str]) -> list[str]:
    """What a merge held aside (dated ahead of this laptop's clock), as sentences."""
    from villagebook.services.clock import when
    from villagebook.sync.quarantine import held_sentence

    return [held_sentence(count, names.get(origin) or origin, when(newest))
            for origin, (count, newest) in sorted(result.held_aside.items())]


def _gaps(store: Any, names: dict[str, str]) -> list[str]:
    from villagebook.sync.status import gap_sentences, streams

    return gap_sentences(streams(store), names)
