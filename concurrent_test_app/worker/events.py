"""The unittest result a worker runs with: every call it receives goes to the parent.

The calls are held in an :class:`Outbox` and written together to the worker's events pipe
just before the next test or fixture begins (and when the unit ends): one write per test, and
a worker that dies in a test has already written every result it finished, with the mark of
what is in flight. The parent does not wake up for these writes: it reads the pipe on its
own tick, whenever a worker rings (the end of a unit, or enough bytes written) and before it
judges a worker lost, so its work per test is small and its view is exact when it matters.
"""

from __future__ import annotations

import io
import logging
import time
import unittest
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from concurrent_test_app.protocol import (
    Batch,
    CaseCalls,
    CaseInfo,
    CaseStarted,
    EventsWritten,
    ResultCall,
)

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

logger = logging.getLogger(__name__)

# A worker rings its parent at least after writing this many bytes of events, so that an events
# pipe of the smallest size (64 KiB on Linux) never fills up while the parent sleeps.
RING_BYTES = 32 * 1024

# Any: unittest hands a result a TestCase or, for a failed class or module fixture, an
# _ErrorHolder (no TestCase); what they share, id() and str(), is all this module uses.
UnittestTest = Any


class QueryCounter:
    """Count the queries a worker runs (installed as a connection execute wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    # Any: Django's execute-wrapper protocol passes the driver's cursor call, parameters and
    # context, and returns whatever the driver's execute() returns.
    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class Outbox:
    """Messages to the parent, held until something that could lose the worker begins.

    ``flush`` writes them to the events pipe, which the parent reads without being woken;
    ``ring`` also sends a token on the control pipe, which wakes the parent. The events pipe is
    one ordered stream: a unit's end follows its last test there, and the next unit's start
    follows it.
    """

    def __init__(self, events: Connection, control: Connection) -> None:
        self.events = events
        self.control = control
        self.pending: list[object] = []
        self.unrung = 0  # bytes written since the parent was last rung

    def put(self, message: object) -> None:
        """Hold ``message`` until the next flush."""
        self.pending.append(message)

    def send(self, message: object) -> None:
        """Send ``message`` now, after everything held before it."""
        self.pending.append(message)
        self.flush()

    def flush(self) -> None:
        """Write everything held to the events pipe, as one message."""
        self._write()
        if self.unrung >= RING_BYTES:
            self.ring()

    def ring(self, message: object | None = None) -> None:
        """Write everything held (and ``message``), then wake the parent to read it."""
        if message is not None:
            self.pending.append(message)
        self._write()
        self.unrung = 0
        self.control.send(EventsWritten())

    def _write(self) -> None:
        if not self.pending:
            return
        messages, self.pending = self.pending, []
        data = ForkingPickler.dumps(messages[0] if len(messages) == 1 else Batch(tuple(messages)))
        self.events.send_bytes(data)
        self.unrung += len(data)


class EventResult(unittest.TestResult):
    """A unittest result that sends every call it receives to the parent as plain data.

    The calls of one test go out together, so the parent replays whole tests and its verbose
    output stays one line per test. :meth:`about_to_run` sends them with the mark that the
    next test is in flight, before Django's per-test set-up runs.
    """

    def __init__(
        self,
        outbox: Outbox,
        slot: int,
        unit: int,
        index: dict[int, int],
        *,
        failfast: bool,
        buffer: bool,
        debug_sql: bool,
    ) -> None:
        super().__init__()
        self.outbox = outbox
        self.slot = slot
        self.unit = unit
        self.index = index
        self.failfast = failfast
        self.buffer = buffer
        self.debug_sql = debug_sql
        self.pending: list[ResultCall] | None = None
        self.started_at = 0.0
        self.first_test_at: float | None = None
        self.reported_duration = False
        self._sql_stream: io.StringIO | None = None
        self._sql_handler: logging.Handler | None = None
        self._sql_sent = 0
        self._marked: int | None = None  # the test about_to_run said is in flight
        self.last = next(reversed(index.values()), -1)  # the last test this unit runs

    # -- helpers ---------------------------------------------------------------------------

    def _ref(self, test: UnittestTest) -> tuple[int, CaseInfo | None]:
        position = self.index.get(id(test))
        if position is not None:
            return position, None
        description = getattr(test, "description", None) or str(test)
        return -1, CaseInfo(test.id(), description, None)

    def _take_sql(self) -> str:
        if self._sql_stream is None:
            return ""
        text = self._sql_stream.getvalue()
        new, self._sql_sent = text[self._sql_sent :], len(text)
        return new

    def _record(
        self,
        method: str,
        test: UnittestTest,
        *,
        subtest: CaseInfo | None = None,
        error: str | None = None,
        failure: bool = False,
        reason: str | None = None,
        duration: float | None = None,
    ) -> None:
        position, holder = self._ref(test)
        call = ResultCall(
            method,
            position,
            holder=holder,
            subtest=subtest,
            error=error,
            failure=failure,
            reason=reason,
            duration=duration,
            sql=self._take_sql(),
        )
        if self.pending is not None and holder is None:
            self.pending.append(call)
        else:
            self.outbox.put(CaseCalls(self.slot, self.unit, (call,)))

    def about_to_run(self, test: unittest.TestCase) -> None:
        """Send what is held, and that ``test`` is in flight from now (its set-up included).

        Before the unit's last test the parent is also woken, so that it has replayed the
        unit by the time the unit ends and answers with the next one at once.
        """
        position, _ = self._ref(test)
        self._marked = position
        started = CaseStarted(self.slot, self.unit, position, time.time())
        if position == self.last:
            self.outbox.ring(started)
        else:
            self.outbox.send(started)

    # -- unittest's result protocol --------------------------------------------------------

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        now = time.time()
        if self.first_test_at is None:
            self.first_test_at = now
        self.started_at = time.perf_counter()
        self.reported_duration = False
        position, _ = self._ref(test)
        if self._marked != position:
            # Run without about_to_run (a suite of the project's own): say it now.
            self.outbox.send(CaseStarted(self.slot, self.unit, position, now))
        self._marked = None
        if self.debug_sql:
            self._sql_stream = io.StringIO()
            self._sql_sent = 0
            self._sql_handler = logging.StreamHandler(self._sql_stream)
            sql_logger = logging.getLogger("django.db.backends")
            sql_logger.setLevel(logging.DEBUG)
            sql_logger.addHandler(self._sql_handler)
        self.pending = []
        self._record("startTest", test)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if not self.reported_duration:
            # Python < 3.12 has no addDuration(); measure what TestCase.run would have.
            self.addDuration(test, time.perf_counter() - self.started_at)
        self._record("stopTest", test)
        if self._sql_handler is not None:
            logging.getLogger("django.db.backends").removeHandler(self._sql_handler)
            self._sql_handler = None
        calls, self.pending = tuple(self.pending or ()), None
        self._sql_stream = None
        self.outbox.put(CaseCalls(self.slot, self.unit, calls))

    def addDuration(self, test: unittest.TestCase, elapsed: float) -> None:
        self.reported_duration = True
        self._record("addDuration", test, duration=elapsed)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._record("addSuccess", test)

    def addError(self, test: UnittestTest, err: OptExcInfo) -> None:
        super().addError(test, err)
        self._record("addError", test, error=self.errors[-1][1])

    def addFailure(self, test: unittest.TestCase, err: OptExcInfo) -> None:
        super().addFailure(test, err)
        self._record("addFailure", test, error=self.failures[-1][1], failure=True)

    def addSkip(self, test: UnittestTest, reason: str) -> None:
        super().addSkip(test, reason)
        self._record("addSkip", test, reason=reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: OptExcInfo) -> None:
        super().addExpectedFailure(test, err)
        self._record("addExpectedFailure", test, error=self.expectedFailures[-1][1])

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._record("addUnexpectedSuccess", test)

    def addSubTest(
        self, test: unittest.TestCase, subtest: unittest.TestCase, err: OptExcInfo | None
    ) -> None:
        super().addSubTest(test, subtest, err)
        info = CaseInfo(subtest.id(), str(subtest), subtest.shortDescription())
        if err is None:
            self._record("addSubTest", test, subtest=info)
            return
        kind = err[0]  # a failed subtest's exception type, never None
        failure = kind is not None and issubclass(kind, test.failureException)
        text = (self.failures if failure else self.errors)[-1][1]
        self._record("addSubTest", test, subtest=info, error=text, failure=failure)
