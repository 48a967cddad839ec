"""The command line's frame: the group, global options, error handling, entry point.

Commands live beside this module, one module per area (`records.py`,
`sync.py`…); `villagebook.cli` imports them all so they register on `cli`.

Exit codes: 0 success; 1 an input was rejected (one clear line on stderr, in the
user's language, nothing changed); 2 usage error; 3 an unexpected internal
error (details in the home's error.log, never a traceback on the terminal).
Heavy modules are imported inside commands so `--help` and the app start fast.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from villagebook import __version__
from villagebook.cli.help_language import TranslatedGroup, install
from villagebook.i18n import _, detect_language, set_language

if TYPE_CHECKING:
    from villagebook.store.node import Store

F = TypeVar("F", bound=Callable[..., Any])
EXIT_REJECTED = 1
EXIT_INTERNAL = 3
_crash_home: Path | None = None


class Context:
    """What every command needs: where the home is."""

    def __init__(self, home: Path, lang: str | None, quiet: bool = False) -> None:
        self.home = home
        self.lang = lang
        #: No progress line on stderr (`--quiet`); it is never drawn off a terminal either.
        self.quiet = quiet
        #: Stores this command opened: after it, what their writes found of the clock.
        self.opened: list[Store] = []

    def open(self, *, initialised: bool = True) -> Store:
        """Open the home's store; exit 1 with a hint if `init` has not run."""
        from villagebook.store.node import Store

        store = Store(self.home)
        if initialised and not store.initialised:
            store.close()
            fail(_("This home ({home}) is not set up yet; run: villagebook init --help")
                 .format(home=self.home))
        if store.initialised:
            _first_start(store)
        self.opened.append(store)
        return store

    def tell_clock(self) -> None:
        """After a command: one stderr line if its writes re-dated changes, or if they
        were stamped by a clock far ahead of what this node heard (exit code unchanged)."""
        from villagebook.domain.clock import ClockVerdict
        from villagebook.services.clock import redated_notice, warning

        for store in self.opened:
            reading = store.clock_at_write
            if store.redated:
                click.echo(redated_notice(store.redated), err=True)
            elif reading is not None and reading.verdict is not ClockVerdict.SET_BACK:
                text = warning(reading)  # SET_BACK with nothing re-dated: already settled
                if text:
                    click.echo(text, err=True)


def fail(message: str) -> NoReturn:
    """Print one line on stderr and exit 1 (input rejected, nothing changed)."""
    click.echo(message, err=True)
    sys.exit(EXIT_REJECTED)


@contextmanager
def user_errors(entity: str | None = None) -> Iterator[None]:
    """Turn every failure `explain_failure` knows into one translated line and exit 1;
    any other is an internal error (exit 3, error.log)."""
    from villagebook.services.failures import explain_failure

    try:
        yield
    except BrokenPipeError:
        raise  # the reader of stdout left: not this input's fault (see `main`)
    except Exception as error:
        sentence = explain_failure(error, entity)
        if sentence is None:
            raise
        fail(sentence)


pass_context = click.make_pass_decorator(Context)


class _Group(TranslatedGroup):
    """The top group: a reader that closes stdout early ends the command quietly
    (click itself would exit 1 for it)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()
        except BrokenPipeError:
            from villagebook.cli.output import quiet_closed_pipe

            quiet_closed_pipe()
            raise click.exceptions.Exit(0) from None
        return result


@click.group(cls=_Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding this node's database and keys "
                   "(default: $VILLAGEBOOK_HOME, else the user data folder).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, is_eager=True,
              callback=lambda _ctx, _param, value: _early_language(value),
              help="Language of messages (default: the system locale).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress line on stderr (it is drawn only on a terminal anyway).")
# The version from the package itself, not its installed metadata: a frozen build has none
# unless it is copied in, and `--version` must not depend on it.
@click.version_option(version=__version__, prog_name="villagebook")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, lang: str | None, quiet: bool) -> None:
    """VillageBook: innovation cases and problem ledgers for grassroots offices.

    With no command, opens the terminal app.
    """
    from villagebook.store.home import resolve_home

    set_language(lang or detect_language())
    _refuse_undecodable(sys.argv[1:])
    global _crash_home
    ctx.obj = Context(resolve_home(home), lang, quiet)
    _crash_home = ctx.obj.home
    if ctx.invoked_subcommand is None:
        from villagebook.screens.app import run_app

        if not (_is_terminal(sys.stdin) and _is_terminal(sys.stdout)):
            fail(_("The app needs a terminal: run villagebook in a console window, "
                   "or give a command (villagebook --help)"))
        from villagebook.store.node import Store

        with Store(ctx.obj.home) as store:  # the app's first start does the key step too
            if store.initialised:
                _first_start(store)
        run_app(ctx.obj.home, lang)


@cli.result_callback()
@click.pass_context
def _after_command(ctx: click.Context, *_: Any, **__: Any) -> None:
    if isinstance(ctx.obj, Context):
        ctx.obj.tell_clock()


def _early_language(value: str | None) -> str | None:
    """`--lang` takes effect as it is read, so `--lang zh --help` is Chinese."""
    if value:
        set_language(value)
    return value


def _is_terminal(stream: Any) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (ValueError, OSError):  # closed or detached
        return False


def _refuse_undecodable(arguments: list[str]) -> None:
    """Refuse (exit 2) an argument holding bytes that were not UTF-8: Python keeps them
    as lone surrogates, which no file or database could store."""
    for argument in arguments:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            raise click.UsageError(_("{argument} is not valid text; check that the terminal "
                                     "uses UTF-8").format(argument=_shown(argument))) from None


def _shown(argument: str) -> str:
    """An undecodable argument as printable text: its bytes (\\xff), else code points."""
    try:
        return argument.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return argument.encode("utf-8", "backslashreplace").decode("utf-8")


def main() -> None:
    """Entry point: run the CLI; an unexpected error becomes one line plus a log file."""
    from villagebook.cli.output import prepare_streams

    prepare_streams()
    install()
    set_language(detect_language())  # for --help before --lang is read
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo(_("Aborted"), err=True)
        sys.exit(EXIT_REJECTED)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo(_("Interrupted; nothing half-written was kept"), err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception:
        _report_crash()


def _report_crash() -> NoReturn:
    from villagebook.store.home import resolve_home

    log = (_crash_home or resolve_home(None)) / "error.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc() + "\n")
        where = str(log)
    except OSError:
        where = "-"
    click.echo(_("Unexpected internal error; details were written to {path}").format(path=where),
               err=True)
    sys.exit(EXIT_INTERNAL)


def _first_start(store: Store) -> None:
    """Key step for homes made before encryption (an age identity beside the signing
    key), the sweep of plaintext a crashed merge may have left in the home, and of
    viewer copies over a day old."""
    from villagebook.store.viewing import sweep as sweep_viewer_copies
    from villagebook.sync.identity import ensure_encryption_identity
    from villagebook.sync.sealed import sweep_scratch

    ensure_encryption_identity(store.home, store.node.unit_code)
    sweep_scratch(store.home)
    sweep_viewer_copies(store.home)
