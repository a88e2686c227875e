"""Plain data that crosses the process boundary, and its replay onto one unittest result.

A worker never sends a TestCase, a live exception or a connection: it sends the calls it saw
on its own unittest result, with tracebacks already formatted. The parent replays those calls
onto the runner's result through small stand-ins (:class:`ReplayCase`), so that unittest's
own ``TextTestResult`` prints and counts exactly as it would in a serial run.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "expected_failure",
    "unexpected_success",
    "not_run",
)

# Which outcome wins when unittest reports one id more than once (a test that failed and then
# errored in a cleanup, a parent test whose subtests failed and errored).
_SEVERITY = {
    "not_run": 0,
    "passed": 1,
    "skipped": 2,
    "expected_failure": 3,
    "unexpected_success": 4,
    "failed": 5,
    "error": 6,
}

_CALL_OUTCOME = {
    "addSuccess": "passed",
    "addFailure": "failed",
    "addError": "error",
    "addSkip": "skipped",
    "addExpectedFailure": "expected_failure",
    "addUnexpectedSuccess": "unexpected_success",
}


# -- what crosses the boundary -----------------------------------------------------------------


@dataclass(frozen=True)
class CaseInfo:
    """How unittest names a test: enough to print it as the serial runner would."""

    id: str
    description: str
    short_description: str | None = None


@dataclass(frozen=True)
class ResultCall:
    """One call that a worker's code made on its unittest result, as plain data.

    ``test`` is the index of the test inside its work unit; -1 means a pseudo-test that
    unittest made up for a class- or module-level error or skip, described by ``holder``.
    """

    method: str
    test: int
    holder: CaseInfo | None = None
    subtest: CaseInfo | None = None
    error: str | None = None
    failure: bool = False
    reason: str | None = None
    duration: float | None = None
    sql: str = ""


@dataclass(frozen=True)
class WorkUnitSpec:
    """A work unit as the parent knows it: its key, the tests it holds and its phase.

    ``phase`` is the position of the unit's test type in Django's ``reorder_by`` order
    (import failures, then TestCase, then SimpleTestCase and TransactionTestCase, then the
    rest). A TransactionTestCase empties the database, and in serial no TestCase runs after
    one; ``flushes`` and ``needs_clean`` let the pool keep that promise per worker.
    """

    index: int
    key: str
    tests: tuple[CaseInfo, ...]
    phase: int = 0
    flushes: bool = False  # holds a TransactionTestCase: leaves its database emptied
    needs_clean: bool = False  # holds a TestCase using a database: wants the template's rows


# Messages from parent to worker.


@dataclass(frozen=True)
class RunUnit:
    """Run these tests (indexes inside the unit) of one work unit."""

    unit: int
    tests: tuple[int, ...]


@dataclass(frozen=True)
class StopWorker:
    """Finish cleanly: close connections and exit."""


# Messages from worker to parent.


@dataclass(frozen=True)
class WorkerReady:
    slot: int
    pid: int
    database: str


@dataclass(frozen=True)
class WorkerFailed:
    """The worker could not start (for example its database is unreachable)."""

    slot: int
    message: str


@dataclass(frozen=True)
class UnitStarted:
    """The worker took the unit it was sent; what it does from here belongs to that unit."""

    slot: int
    unit: int


@dataclass(frozen=True)
class FixtureStarted:
    """The worker entered a class or module fixture; the parent times it as one test.

    ``name`` is unittest's pseudo-id of the fixture (``setUpClass (module.Class)``);
    ``tests`` are the unit's tests it belongs to, which do not run if a set-up fails.
    """

    slot: int
    unit: int
    name: str
    tests: tuple[int, ...]
    sets_up: bool


@dataclass(frozen=True)
class FixtureDone:
    """The worker left the fixture it last entered."""

    slot: int
    unit: int


@dataclass(frozen=True)
class CaseStarted:
    """A test began; the parent times it."""

    slot: int
    unit: int
    test: int
    at: float


@dataclass(frozen=True)
class CaseCalls:
    """The result calls of one finished test, or of one class- or module-level event."""

    slot: int
    unit: int
    calls: tuple[ResultCall, ...]


@dataclass(frozen=True)
class UnitDone:
    slot: int
    unit: int
    seconds: float
    setup_seconds: float
    queries: int
    memory_peak_mb: float
    rss_mb: float


# -- replay ------------------------------------------------------------------------------------


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


class ReplayResultMixin:
    """Mixed into the runner's result class so that it accepts tracebacks formatted elsewhere."""

    durations: ClassVar[int | None] = None

    def _exc_info_to_string(self, err: Any, test: Any) -> str:
        exc = err[1]
        if isinstance(exc, (RemoteFailure, RemoteError)):
            return exc.text
        return super()._exc_info_to_string(err, test)  # type: ignore[misc]

    if sys.version_info < (3, 12):
        # unittest grew addDuration() and --durations in Python 3.12; offer both everywhere.

        def addDuration(self, test: Any, elapsed: float) -> None:
            if not hasattr(self, "collectedDurations"):
                self.collectedDurations: list[tuple[str, float]] = []
            self.collectedDurations.append((str(test), elapsed))

        def printErrors(self) -> None:
            super().printErrors()  # type: ignore[misc]
            if self.durations is not None:
                print_durations(self, self.durations)


def print_durations(result: Any, durations: int) -> None:
    """Print the slowest tests as Python 3.12's TextTestRunner does."""
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


def replay(result: Any, unit: WorkUnitSpec | None, calls: tuple[ResultCall, ...]) -> None:
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


# -- the run's record, for reports and history -------------------------------------------------


@dataclass
class CaseRecord:
    """One entry of the JSON report's ``tests`` list."""

    id: str
    outcome: str
    duration: float = 0.0
    worker: int | None = None
    message: str = ""
    unit: str = ""


@dataclass
class WorkerRecord:
    slot: int
    database: str = ""
    tests: int = 0
    units: int = 0
    busy_seconds: float = 0.0
    setup_seconds: float = 0.0
    queries: int = 0
    memory_peak_mb: float = 0.0
    restarts: int = 0
    recycles: int = 0
    refreshes: int = 0
    life_seconds: float = 0.0  # from the slot's first worker's start to its last one's end
    timeline: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass
class TemplateRecord:
    alias: str
    name: str
    fingerprint: str
    reused: bool
    seconds: float


@dataclass
class UnitRecord:
    key: str
    slot: int | None
    seconds: float
    setup_seconds: float


class Ledger:
    """Turn the result calls of a run into one record per test id, as the JSON report lists them."""

    def __init__(self, units: list[WorkUnitSpec]) -> None:
        self.units = units
        self._records: dict[str, CaseRecord] = {}
        self._seen: set[tuple[int, int]] = set()
        self.unit_records: list[UnitRecord] = []

    def add(
        self, slot: int | None, unit: WorkUnitSpec | None, calls: tuple[ResultCall, ...]
    ) -> None:
        for call in calls:
            if call.test >= 0:
                assert unit is not None
                info = unit.tests[call.test]
                self._seen.add((unit.index, call.test))
            else:
                assert call.holder is not None
                info = call.holder
            if call.method == "addDuration":
                self._record(info.id, unit, slot).duration = call.duration or 0.0
            elif call.method == "startTest":
                self._record(info.id, unit, slot)
            elif call.method == "addSubTest":
                if call.error is None or call.subtest is None:
                    continue
                outcome = "failed" if call.failure else "error"
                self._set(self._record(call.subtest.id, unit, slot), outcome, call.error)
                self._set(self._record(info.id, unit, slot), outcome, "")
            elif call.method in _CALL_OUTCOME:
                message = call.error or call.reason or ""
                self._set(self._record(info.id, unit, slot), _CALL_OUTCOME[call.method], message)

    def ran(self, unit: int, test: int) -> bool:
        return (unit, test) in self._seen

    def mark_not_run(self, unit: WorkUnitSpec, test: int, reason: str) -> None:
        info = unit.tests[test]
        if info.id not in self._records:
            self._records[info.id] = CaseRecord(info.id, "not_run", message=reason, unit=unit.key)

    def _record(self, test_id: str, unit: WorkUnitSpec | None, slot: int | None) -> CaseRecord:
        record = self._records.get(test_id)
        if record is None:
            record = CaseRecord(test_id, "not_run", worker=slot, unit=unit.key if unit else "")
            self._records[test_id] = record
        record.worker = slot
        return record

    @staticmethod
    def _set(record: CaseRecord, outcome: str, message: str) -> None:
        if _SEVERITY[outcome] >= _SEVERITY[record.outcome]:
            record.outcome = outcome
        if message:
            record.message = f"{record.message}\n{message}" if record.message else message

    def records(self) -> list[CaseRecord]:
        return list(self._records.values())


@dataclass
class RunReport:
    """Everything a run learned: the JSON report's content and what history stores."""

    summary: dict[str, Any]
    tests: list[CaseRecord]
    workers: list[WorkerRecord]
    templates: list[TemplateRecord]
    units: list[UnitRecord]
    started_at: float
    finished_at: float
    shard: str | None = None
    vendor: str = ""
    exit_status: int = 0
    clone_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "tests": [asdict(t) for t in self.tests],
            "workers": [
                {k: v for k, v in asdict(w).items() if k != "timeline"} for w in self.workers
            ],
            "templates": [asdict(t) for t in self.templates],
            "units": [asdict(u) for u in self.units],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "shard": self.shard,
            "vendor": self.vendor,
            "exit_status": self.exit_status,
            "clone_seconds": [round(seconds, 4) for seconds in self.clone_seconds],
        }
