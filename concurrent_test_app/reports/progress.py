"""Live progress of a run: a rich progress bar on a terminal, plain lines elsewhere.

Both share one stream with unittest, which writes its dots (verbosity 1) or one line per test
(verbosity 2) there. To keep the two from garbling each other, pass unittest's own stream object
(``result.stream``, the ``_WritelnDecorator`` a ``TextTestResult`` writes through): while the
display is up, this module sits between that object and the terminal.

- On a terminal the bar is a transient rich display: whole lines unittest writes (verbosity 2)
  are printed above it as they come; a line still being written (the dots of verbosity 1) is
  held and printed once the bar has been removed, so the final screen reads exactly as a run
  without the bar would, and the bar is gone.
- Elsewhere (CI logs, a pipe) a plain line such as
  ``[CONCURRENT] Progress: 40/200 tests (20%), failures=1, elapsed=12s, eta=48s`` is written
  every tenth of the suite or every 30 seconds, whichever comes first, starting on a fresh line
  when unittest's dots left one open. It holds no control characters.
- At verbosity 0 neither is shown.
"""

from __future__ import annotations

import io
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from rich.ansi import AnsiDecoder
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

logger = logging.getLogger(__name__)

# Outcomes that make the run fail, as unittest's wasSuccessful() judges it.
FAILING = frozenset({"failed", "error", "unexpected_success"})

PLAIN_EVERY_FRACTION = 0.1
PLAIN_EVERY_SECONDS = 30.0
REFRESHES_PER_SECOND = 4


class ProgressDisplay(Protocol):
    """What the runner holds: one call per finished test, one when the run is over."""

    def advance(self, outcome: str) -> None: ...

    def close(self) -> None: ...

    def log(self, message: str) -> None: ...


def estimate_remaining(
    done: int, total: int, elapsed: float, expected_seconds: float | None
) -> float | None:
    """Return the seconds left, or None when nothing is known yet.

    Early on the history's expected run time leads; as tests finish, the rate seen so far takes
    over (weighted by the share done). A run slower than history falls back to the rate alone.
    """
    if total <= 0 or done >= total:
        return 0.0
    rate_based = elapsed * (total - done) / done if done > 0 else None
    history_based = expected_seconds - elapsed if expected_seconds is not None else None
    if history_based is not None and history_based > 0:
        if rate_based is None:
            return history_based
        share = done / total
        return (1 - share) * history_based + share * rate_based
    return rate_based


def format_duration(seconds: float | None) -> str:
    """Return ``seconds`` as 45s, 3m05s or 1h02m; ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _Counts:
    def __init__(self, total: int, expected_seconds: float | None, clock: Callable[[], float]):
        self.total = total
        self.expected_seconds = expected_seconds
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.failures = 0

    def add(self, outcome: str) -> None:
        self.done += 1
        if outcome in FAILING:
            self.failures += 1

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def eta(self) -> float | None:
        return estimate_remaining(self.done, self.total, self.elapsed, self.expected_seconds)


def _inner_stream(stream: Any) -> TextIO | None:
    """Return the stream a unittest ``_WritelnDecorator`` wraps, or None for any other object."""
    try:
        return vars(stream).get("stream")  # type: ignore[no-any-return]
    except TypeError:
        return None


class _Interposed:
    """Put ``writer`` between a ``_WritelnDecorator`` and its stream until :meth:`restore`."""

    def __init__(self, stream: Any, writer_factory: Callable[[TextIO], io.TextIOBase]) -> None:
        inner = _inner_stream(stream)
        self.decorator = stream if inner is not None else None
        self.raw: TextIO = inner if inner is not None else stream
        self.writer = writer_factory(self.raw)
        if self.decorator is not None:
            self.decorator.stream = self.writer

    def restore(self) -> None:
        if self.decorator is not None and self.decorator.stream is self.writer:
            self.decorator.stream = self.raw


class NullProgress:
    """Show nothing (verbosity 0)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def advance(self, outcome: str) -> None:
        pass

    def close(self) -> None:
        pass

    def log(self, message: str) -> None:
        """Drop ``message``: verbosity 0 prints nothing."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LineTracker(io.TextIOBase):
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


class PlainProgress:
    """Write a plain, control-character-free progress line now and then."""

    def __init__(
        self,
        stream: Any,
        total: int,
        expected_seconds: float | None,
        *,
        every_tests: int | None = None,
        every_seconds: float = PLAIN_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counts = _Counts(total, expected_seconds, clock)
        self.every_tests = every_tests or max(1, math.ceil(total * PLAIN_EVERY_FRACTION))
        self.every_seconds = every_seconds
        self._interposed = _Interposed(stream, _LineTracker)
        self.tracker: _LineTracker = self._interposed.writer  # type: ignore[assignment]
        self.stream = stream
        self._last_done = 0
        self._last_time = self.counts.started
        self._closed = False

    def line(self, final: bool = False) -> str:
        """Return the progress line for the counts so far."""
        counts = self.counts
        share = counts.done / counts.total if counts.total else 1.0
        parts = [
            f"[CONCURRENT] Progress: {counts.done}/{counts.total} tests ({share:.0%})",
            f"failures={counts.failures}",
            f"elapsed={format_duration(counts.elapsed)}",
        ]
        if not final:
            parts.append(f"eta={format_duration(counts.eta())}")
        return ", ".join(parts)

    def _emit(self, final: bool = False) -> None:
        prefix = "" if self.tracker.at_line_start else "\n"
        self.tracker.write(f"{prefix}{self.line(final)}\n")
        self.tracker.flush()
        self._last_done = self.counts.done
        self._last_time = self.counts.clock()

    def log(self, message: str) -> None:
        """Write ``message`` on a line of its own."""
        prefix = "" if self.tracker.at_line_start else "\n"
        self.tracker.write(f"{prefix}{message}\n")
        self.tracker.flush()

    def advance(self, outcome: str) -> None:
        self.counts.add(outcome)
        now = self.counts.clock()
        if self.counts.done >= self.counts.total:
            return
        if (
            self.counts.done - self._last_done >= self.every_tests
            or now - self._last_time >= self.every_seconds
        ):
            self._emit()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._interposed.restore()
        if self.counts.total and (self._last_done != self.counts.done or self.counts.done == 0):
            self._emit(final=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AboveBar(io.TextIOBase):
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


class _FailuresColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        failures = int(task.fields.get("failures", 0))
        return Text(f"{failures} failed", style="bold red" if failures else "green")


class _EtaColumn(ProgressColumn):
    def __init__(self, counts: _Counts) -> None:
        super().__init__()
        self.counts = counts

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("")
        return Text(f"ETA {format_duration(self.counts.eta())}", style="progress.remaining")


class LiveProgress:
    """A transient rich progress bar: done/total, failures so far, elapsed and ETA."""

    def __init__(
        self,
        stream: Any,
        total: int,
        expected_seconds: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        console: Console | None = None,
    ) -> None:
        self.counts = _Counts(total, expected_seconds, clock)
        raw = _inner_stream(stream) or stream
        self.console = console or Console(file=raw, force_terminal=True, highlight=False)
        self._interposed = _Interposed(stream, lambda raw: _AboveBar(self.console, raw))
        self.above: _AboveBar = self._interposed.writer  # type: ignore[assignment]
        self.stream = stream
        self.progress = Progress(
            TextColumn("[bold]Tests"),
            BarColumn(),
            MofNCompleteColumn(),
            _FailuresColumn(),
            TimeElapsedColumn(),
            _EtaColumn(self.counts),
            console=self.console,
            transient=True,
            # No refresh thread: the pool forks workers while the bar is up, and a fork taken
            # while that thread held stderr's lock would leave the child unable to write.
            auto_refresh=False,
            refresh_per_second=REFRESHES_PER_SECOND,
            # Never swap sys.stdout/sys.stderr: a worker forked while the bar is up would
            # inherit the swapped objects and write through this process's console.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.progress.add_task("tests", total=total, failures=0)
        self._closed = False
        self.progress.start()

    def log(self, message: str) -> None:
        """Print ``message`` above the bar (after the bar is gone, straight to the stream)."""
        if self._closed:
            self.above.raw.write(f"{message}\n")
            self.above.raw.flush()
        else:
            self.console.print(Text(message), soft_wrap=True)

    def advance(self, outcome: str) -> None:
        self.counts.add(outcome)
        self.progress.update(self.task, completed=self.counts.done, failures=self.counts.failures)
        self.progress.refresh()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.progress.stop()
        finally:
            self._interposed.restore()
            self.above.release()

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal(stream: Any) -> bool:
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError, OSError):
        return False
    # rich reads TERM: a dumb terminal cannot move the cursor, so it gets plain lines.
    return not Console(file=stream, force_terminal=True).is_dumb_terminal


def make_progress(
    stream: TextIO, total: int, expected_seconds: float | None, verbosity: int
) -> NullProgress | PlainProgress | LiveProgress:
    """Return the progress display for a run of ``total`` tests on ``stream``.

    ``stream`` is best unittest's own ``result.stream`` (see the module docstring);
    ``expected_seconds`` is the run's expected wall time from timing history, or None.
    Call ``advance(outcome)`` once per finished test and ``close()`` when the tests are over;
    while it is up, write messages of your own through ``log(message)`` so they land on a line
    of their own (above the bar on a terminal) instead of inside unittest's dots or the bar.
    """
    if verbosity <= 0:
        return NullProgress(stream)
    if _is_terminal(stream):
        return LiveProgress(stream, total, expected_seconds)
    return PlainProgress(stream, total, expected_seconds)
