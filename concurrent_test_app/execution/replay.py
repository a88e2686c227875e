"""Replay a worker's result calls onto the one unittest result the runner prints.

The parent replays the calls through small stand-ins (:class:`ReplayCase`), so that
unittest's own ``TextTestResult`` prints and counts exactly as it would in a serial run.
"""

from __future__ import annotations

import logging
import sys
import unittest
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from concurrent_test_app.protocol import CaseInfo, ResultCall, WorkUnitSpec

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

logger = logging.getLogger(__name__)


class RemoteFailure(AssertionError):
    """Stands for an assertion failure that happened in a worker."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class RemoteError(Exception):
    """Stands for an error that happened in a worker."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ReplayCase:
    """A stand-in for a test (or subtest, or pseudo-test) that ran in a worker."""

    failureException: ClassVar[type[BaseException]] = AssertionError

    def __init__(self, info: CaseInfo) -> None:
        self.info = info

    def id(self) -> str:
        return self.info.id

    def __str__(self) -> str:
        return self.info.description

    def __repr__(self) -> str:
        return f"<ReplayCase {self.info.id}>"

    def shortDescription(self) -> str | None:
        return self.info.short_description


def remote_exc_info(text: str, failure: bool) -> tuple[type[BaseException], BaseException, None]:
    """Return an exc_info triple carrying a formatted traceback from a worker."""
    exc: BaseException = RemoteFailure(text) if failure else RemoteError(text)
    return type(exc), exc, None


class ConcurrentSuite(unittest.TestSuite):
    """The suite unittest's TextTestRunner runs: ``run`` runs it on the pool and replays it."""

    def __init__(
        self, tests: list[unittest.TestCase], *, run: Callable[[unittest.TestResult], None]
    ) -> None:
        super().__init__(tests)
        self._run_on_pool = run

    def run(self, result: unittest.TestResult, debug: bool = False) -> unittest.TestResult:
        self._run_on_pool(result)
        return result


class ReplayResultMixin:
    """Mixed into the runner's result class so that it accepts tracebacks formatted elsewhere."""

    durations: ClassVar[int | None] = None

    def _exc_info_to_string(self, err: OptExcInfo, test: object) -> str:
        exc = err[1]
        if isinstance(exc, (RemoteFailure, RemoteError)):
            return exc.text
        # The result class this is mixed into (a TextTestResult) formats a local exception.
        text: str = super()._exc_info_to_string(err, test)  # type: ignore[misc]
        return text

    if sys.version_info < (3, 12):
        # unittest grew addDuration() and --durations in Python 3.12; offer both everywhere.

        def addDuration(self, test: object, elapsed: float) -> None:
            if not hasattr(self, "collectedDurations"):
                self.collectedDurations: list[tuple[str, float]] = []
            self.collectedDurations.append((str(test), elapsed))

        def printErrors(self) -> None:
            super().printErrors()  # type: ignore[misc]
            if self.durations is not None:
                print_durations(self, self.durations)


def print_durations(result: Any, durations: int) -> None:
    """Print the slowest tests as Python 3.12's TextTestRunner does."""
    # Any: the result class built at run time on the project's (see get_resultclass).
    collected = getattr(result, "collectedDurations", [])
    if not collected:
        return
    ordered = sorted(collected, key=lambda item: item[1], reverse=True)
    if durations > 0:
        ordered = ordered[:durations]
    stream = result.stream
    stream.writeln("Slowest test durations")
    stream.writeln(result.separator2)
    hidden = False
    for name, elapsed in ordered:
        if result.showAll is False and result.dots is True and elapsed < 0.001:
            hidden = True
            continue
        stream.writeln(f"{f'{elapsed:.3f}s':<10} {name}")
    if hidden:
        stream.writeln("\n(durations < 0.001s were hidden; use -v to show these durations)")
    else:
        stream.writeln("")


_sql_logger = logging.getLogger("django.db.backends")


def replay(
    result: unittest.TestResult, unit: WorkUnitSpec | None, calls: tuple[ResultCall, ...]
) -> None:
    """Replay a worker's result calls onto ``result``, in the order the worker made them.

    ``unit`` is None for the pool's own pseudo-tests (a worker lost between units), whose calls
    all carry a ``holder``.
    """
    for call in calls:
        if call.test >= 0:
            assert unit is not None
            test = ReplayCase(unit.tests[call.test])
        else:
            assert call.holder is not None
            test = ReplayCase(call.holder)
        if call.sql:
            # DebugSQLTextTestResult captures django.db.backends between startTest and the
            # outcome; logging the worker's queries there puts them where serial shows them.
            for line in call.sql.splitlines():
                _sql_logger.debug(line)
        method = getattr(result, call.method, None)
        if method is None:
            continue
        if call.method in ("addFailure", "addError", "addExpectedFailure"):
            assert call.error is not None
            method(test, remote_exc_info(call.error, call.method == "addFailure"))
        elif call.method == "addSubTest":
            assert call.subtest is not None
            err = None if call.error is None else remote_exc_info(call.error, call.failure)
            method(test, ReplayCase(call.subtest), err)
        elif call.method == "addSkip":
            method(test, call.reason or "")
        elif call.method == "addDuration":
            method(test, call.duration or 0.0)
        else:
            method(test)


# The result call that says how a finished test ended, and the progress display's word for it.
_OUTCOME_CALLS = {
    "addFailure": "failed",
    "addError": "error",
    "addSkip": "skipped",
    "addExpectedFailure": "expected_failure",
    "addUnexpectedSuccess": "unexpected_success",
    "addSuccess": "passed",
}


def outcome_of(calls: tuple[ResultCall, ...]) -> str:
    """Return how the test of ``calls`` ended: "passed", "failed", "error", "skipped", ..."""
    for call in calls:
        if call.method in _OUTCOME_CALLS:
            return _OUTCOME_CALLS[call.method]
    # Only subtests reported: the test failed if one of them did.
    failed = any(call.method == "addSubTest" and call.error is not None for call in calls)
    return "failed" if failed else "passed"
