"""How long work tells its caller how far it is (the CLI draws a progress line).

A service that may take a while takes a `Progress` and calls `start(total)` once it
knows how much there is, then `advance()` as items are done. `SILENT` is for
callers that show nothing (the app, tests, scripts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Progress(Protocol):
    """Told how much work there is, then how much is done."""

    def start(self, total: int) -> None:
        """There are `total` items to do."""

    def advance(self, count: int = 1) -> None:
        """`count` more items are done."""


class _Silent:
    def start(self, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


SILENT: Progress = _Silent()


def counted(items: Iterable[T], progress: Progress) -> Iterator[T]:
    """`items`, advancing `progress` by one after each is taken."""
    for item in items:
        yield item
        progress.advance()
