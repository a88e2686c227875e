"""What sits between unittest's stream object and the terminal while a progress display is up.

unittest writes through a ``_WritelnDecorator`` (``result.stream``); :class:`Interposed` swaps
the stream inside it for a writer of the display's and puts it back afterwards, so unittest's
dots and lines and the display's own output never garble each other.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any, TextIO

from rich.ansi import AnsiDecoder
from rich.console import Console
from rich.text import Text

logger = logging.getLogger(__name__)


def inner_stream(stream: Any) -> TextIO | None:
    """Return the stream a unittest ``_WritelnDecorator`` wraps, or None for any other object."""
    try:
        inner: TextIO | None = vars(stream).get("stream")
    except TypeError:
        return None
    return inner


class Interposed:
    """Put ``writer`` between a ``_WritelnDecorator`` and its stream until :meth:`restore`."""

    def __init__(self, stream: Any, writer_factory: Callable[[TextIO], io.TextIOBase]) -> None:
        inner = inner_stream(stream)
        self.decorator = stream if inner is not None else None
        self.raw: TextIO = inner if inner is not None else stream
        self.writer = writer_factory(self.raw)
        if self.decorator is not None:
            self.decorator.stream = self.writer

    def restore(self) -> None:
        if self.decorator is not None and self.decorator.stream is self.writer:
            self.decorator.stream = self.raw


class LineTracker(io.TextIOBase):
    """Pass writes through, remembering whether the last one ended a line."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self.at_line_start = True

    def write(self, text: str) -> int:
        if text:
            self.at_line_start = text.endswith("\n")
        self.raw.write(text)
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class AboveBar(io.TextIOBase):
    """Print whole lines above the live bar; hold an unfinished line until the bar is gone."""

    def __init__(self, console: Console, raw: TextIO) -> None:
        self.console = console
        self.raw = raw
        self.pending = ""
        self._decoder = AnsiDecoder()

    def write(self, text: str) -> int:
        data = self.pending + text
        head, newline, self.pending = data.rpartition("\n")
        if newline:
            lines = [self._decoder.decode_line(line) for line in head.split("\n")]
            self.console.print(Text("\n").join(lines), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        # unittest flushes after every dot; the dots stay held, so there is nothing to flush.
        pass

    def release(self) -> None:
        """Write the held, unfinished line straight to the terminal."""
        if self.pending:
            self.raw.write(self.pending)
            self.raw.flush()
            self.pending = ""

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def is_terminal(stream: Any) -> bool:
    """Return whether ``stream`` is a terminal that can redraw a live bar."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError, OSError):
        return False
    # rich reads TERM: a dumb terminal cannot move the cursor, so it gets plain lines.
    return not Console(file=stream, force_terminal=True).is_dumb_terminal
