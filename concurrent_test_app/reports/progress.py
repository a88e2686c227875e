"""Live progress of a run: a rich progress bar on a terminal, plain lines elsewhere.

Both share one stream with unittest, which writes its dots (verbosity 1) or one line per test
(verbosity 2) there. To keep the two from garbling each other, pass unittest's own stream object
(``result.stream``, the ``_WritelnDecorator`` a ``TextTestResult`` writes through): while the
display is up, a writer of its own (see :mod:`.streams`) sits between that object and the
terminal.

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
from typing import Any, Protocol, TextIO, TypeVar

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

from concurrent_test_app.reports.streams import AboveBar, Interposed, LineTracker, is_terminal

logger = logging.getLogger(__name__)

# Outcomes that make the run fail, as unittest's wasSuccessful() judges it.
FAILING = frozenset({"failed", "error", "unexpected_success"})

PLAIN_EVERY_FRACTION = 0.1
PLAIN_EVERY_SECONDS = 30.0
REFRESHES_PER_SECOND = 4

_D = TypeVar("_D", bound="_Display")


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


class _Display:
    """What both displays share: the counts, their place in unittest's stream, closing once.

    A display is up from construction to :meth:`close`; a subclass says what it puts between
    unittest's stream object and the terminal (:meth:`_writer`), and how it starts and stops.
    """

    def __init__(
        self,
        stream: Any,
        total: int,
        expected_seconds: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counts = _Counts(total, expected_seconds, clock)
        self.stream = stream
        self._interposed = Interposed(stream, self._writer)
        self._closed = False
        self._start()

    def _writer(self, raw: TextIO) -> io.TextIOBase:
        """Return what writes to ``raw`` for unittest while the display is up."""
        raise NotImplementedError

    def _start(self) -> None:
        """Show the display (the writer is in place)."""

    def _stop(self) -> None:
        """Take the display down and give unittest its stream back."""
        self._interposed.restore()

    def close(self) -> None:
        """Take the display down; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        self._stop()

    def __enter__(self: _D) -> _D:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainProgress(_Display):
    """Write a plain, control-character-free progress line now and then."""

    # A line comes every tenth of the suite or this often, whichever is first.
    every_seconds: float = PLAIN_EVERY_SECONDS
    tracker: LineTracker

    def _writer(self, raw: TextIO) -> LineTracker:
        self.tracker = LineTracker(raw)
        return self.tracker

    def _start(self) -> None:
        self._last_done = 0
        self._last_time = self.counts.started

    @property
    def every_tests(self) -> int:
        """Return how many finished tests bring a line at the latest."""
        return max(1, math.ceil(self.counts.total * PLAIN_EVERY_FRACTION))

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
        self.log(self.line(final))
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

    def _stop(self) -> None:
        super()._stop()
        if self.counts.total and (self._last_done != self.counts.done or self.counts.done == 0):
            self._emit(final=True)


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


class LiveProgress(_Display):
    """A transient rich progress bar: done/total, failures so far, elapsed and ETA."""

    console: Console
    above: AboveBar

    def _writer(self, raw: TextIO) -> AboveBar:
        self.console = Console(file=raw, force_terminal=True, highlight=False)
        self.above = AboveBar(self.console, raw)
        return self.above

    def _start(self) -> None:
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
        self.task = self.progress.add_task("tests", total=self.counts.total, failures=0)
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

    def _stop(self) -> None:
        try:
            self.progress.stop()
        finally:
            super()._stop()
            self.above.release()


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
    if is_terminal(stream):
        return LiveProgress(stream, total, expected_seconds)
    return PlainProgress(stream, total, expected_seconds)
