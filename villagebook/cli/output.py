"""What the command line prints, made safe for scripts and old consoles.

- Text meant for people goes out in the console's encoding; a character it cannot
  hold (刘䶮 on a GBK console) becomes "?" instead of ending the command.
- Data meant for programs (`--json`, `dump`) is always UTF-8, whatever the console.
- A reader that stops early (`dump | head -1`) ends the command quietly, exit 0:
  the rest of stdout goes to the null device, as Python's documentation advises.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import click


def prepare_streams() -> None:
    """Replace, never crash on, what the console's encoding cannot hold."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")


def utf8_stdout() -> None:
    """From here on stdout carries data: UTF-8 bytes and LF line ends, whatever the
    console's code page and the system (the same data prints the same bytes)."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(encoding="utf-8", errors="strict", newline="\n")


def echo_data(text: str, *, nl: bool = True) -> None:
    """Print a document for programs (JSON, a dump, a key file) on stdout, as UTF-8."""
    utf8_stdout()
    click.echo(text, nl=nl)


def write_data(text: str, out: Path | None) -> None:
    """`text` to the file `out` (UTF-8, replaced in one step) or to stdout as UTF-8."""
    if out is None:
        echo_data(text, nl=False)
        return
    from villagebook.services.reports import write_atomically

    def write(temporary: Path) -> None:
        temporary.write_bytes(text.encode("utf-8"))

    write_atomically(out, write)


def quiet_closed_pipe() -> None:
    """The reader of stdout went away: send what is left to the null device so the
    interpreter's last flush does not fail again, and end without a word."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor: nothing to flush
        pass
    finally:
        os.close(devnull)
