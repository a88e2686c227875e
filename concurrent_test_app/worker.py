"""The child-process side: own connections, run one work unit at a time, send plain events.

A worker is started by the parent's pool with a :class:`WorkerSpec`. Under ``fork`` it inherits
the discovered suite; under ``spawn`` or ``forkserver`` it sets Django up again and rebuilds the
suite with the same runner and options, then checks it found exactly the parent's units.
"""

from __future__ import annotations

import faulthandler
import io
import logging
import os
import resource
import signal
import sys
import time
import unittest
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from . import processes
from .databases import WorkerSettings, connect_worker
from .results import (
    CaseCalls,
    CaseInfo,
    CaseStarted,
    FixtureDone,
    FixtureStarted,
    ResultCall,
    RunUnit,
    StopWorker,
    UnitDone,
    UnitStarted,
    WorkerFailed,
    WorkerReady,
)
from .suites import FixtureSuite
from .units import describe_units, group_units, select_units, units_digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, as plain data (it is pickled under spawn)."""

    slot: int
    rebuild: bool
    database_settings: WorkerSettings
    database_name: str
    failfast: bool = False
    buffer: bool = False
    debug_sql: bool = False
    debug_mode: bool = False
    runner_path: str = ""
    runner_kwargs: dict[str, Any] = field(default_factory=dict)
    test_labels: tuple[str, ...] = ()
    units_digest: str = ""
    dump_path: str = ""
    selection: tuple[int, ...] | None = None  # a shard's units, by index in the whole suite
    parent_pid: int = 0  # the parent that started this worker, when it is its direct child


class _QueryCounter:
    """Count the queries a worker runs (installed as a connection execute wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class EventResult(unittest.TestResult):
    """A unittest result that sends every call it receives to the parent as plain data.

    The calls of one test are sent together when it stops, so the parent replays whole tests
    and its verbose output stays one line per test.
    """

    def __init__(
        self,
        conn: Connection,
        slot: int,
        unit: int,
        index: dict[int, int],
        *,
        failfast: bool,
        buffer: bool,
        debug_sql: bool,
    ) -> None:
        super().__init__()
        self.conn = conn
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

    # -- helpers ---------------------------------------------------------------------------

    def _ref(self, test: Any) -> tuple[int, CaseInfo | None]:
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

    def _record(self, method: str, test: Any, **fields: Any) -> None:
        position, holder = self._ref(test)
        call = ResultCall(method, position, holder=holder, sql=self._take_sql(), **fields)
        if self.pending is not None and holder is None:
            self.pending.append(call)
        else:
            self.conn.send(CaseCalls(self.slot, self.unit, (call,)))

    # -- unittest's result protocol --------------------------------------------------------

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        now = time.time()
        if self.first_test_at is None:
            self.first_test_at = now
        self.started_at = time.perf_counter()
        self.reported_duration = False
        position, _ = self._ref(test)
        self.conn.send(CaseStarted(self.slot, self.unit, position, now))
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
        self.conn.send(CaseCalls(self.slot, self.unit, calls))

    def addDuration(self, test: Any, elapsed: float) -> None:
        self.reported_duration = True
        self._record("addDuration", test, duration=elapsed)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._record("addSuccess", test)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._record("addError", test, error=self.errors[-1][1])

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._record("addFailure", test, error=self.failures[-1][1], failure=True)

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._record("addSkip", test, reason=reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._record("addExpectedFailure", test, error=self.expectedFailures[-1][1])

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._record("addUnexpectedSuccess", test)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        info = CaseInfo(subtest.id(), str(subtest), subtest.shortDescription())
        if err is None:
            self._record("addSubTest", test, subtest=info)
            return
        failure = issubclass(err[0], test.failureException)
        text = (self.failures if failure else self.errors)[-1][1]
        self._record("addSubTest", test, subtest=info, error=text, failure=failure)


def _rebuild_units(spec: WorkerSpec) -> list[list[unittest.TestCase]]:
    """Set Django up in a fresh process and discover the same suite as the parent."""
    import django

    django.setup()
    from .runner import concurrent_runner_class  # imports models: only after setup()

    # A forked worker inherits the warning filters TextTestRunner.run() set in the parent; a
    # spawned one sets the same, so a test sees the warnings it would see in serial.
    if not sys.warnoptions:
        warnings.simplefilter("default")
        warnings.filterwarnings(
            "module", category=DeprecationWarning, message=r"Please use assert\w+ instead."
        )

    runner_class = concurrent_runner_class(spec.runner_path)
    runner = runner_class(**{**spec.runner_kwargs, "verbosity": 0})
    # The project's own hook may change settings the tests rely on, as it did in the parent.
    runner.setup_test_environment()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    suite = runner.build_suite(list(spec.test_labels))
    groups = group_units(suite)
    units = describe_units(groups)
    if spec.selection is not None:
        groups, units = select_units(groups, units, spec.selection)
    if units_digest(units) != spec.units_digest:
        raise RuntimeError(
            "The worker discovered a different suite than the parent; make test discovery "
            "deterministic or use --start-method fork."
        )
    return groups


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _memory_mb() -> tuple[float, float]:
    """Return (peak, current) resident memory of this process in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    try:
        import psutil

        current = psutil.Process().memory_info().rss / (1024.0 * 1024.0)
    except Exception:  # psutil missing or the process table unreadable: report the peak
        current = peak
    return peak, current


def worker_main(
    conn: Connection, spec: WorkerSpec, groups: list[list[unittest.TestCase]] | None = None
) -> None:
    """Run in the worker: connect, then run the units the parent sends until told to stop."""
    # The parent owns Ctrl-C: it stops workers itself and reports what ran.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the parent's SIGTERM handler; coverage's (sigterm = true) stays.
    processes.reset_inherited_handler(signal.SIGTERM)
    processes.lead_process_group()
    processes.die_with_parent(spec.parent_pid)
    guardian = processes.start_guardian()
    dump_file = None
    if spec.dump_path:
        # On a timeout the parent sends SIGUSR1 to read the stack of every thread.
        dump_file = open(spec.dump_path, "w")  # noqa: SIM115 - lives as long as the process
        faulthandler.register(signal.SIGUSR1, file=dump_file, all_threads=True)
    from django.db import connections

    try:
        if groups is None or spec.rebuild:
            groups = _rebuild_units(spec)
    except Exception as exc:
        conn.send(
            WorkerFailed(
                spec.slot,
                f"discovering the suite failed ({_first_line(exc)}); make discovery "
                "deterministic or pass --start-method fork",
            )
        )
        return
    try:
        connect_worker(spec.slot, spec.database_settings, restore=spec.rebuild)
        counter = _QueryCounter()
        for alias in spec.database_settings:
            connection = connections[alias]
            connection.execute_wrappers.append(counter)
            if spec.debug_sql:
                connection.force_debug_cursor = True
    except Exception as exc:
        conn.send(
            WorkerFailed(
                spec.slot,
                f"connecting to its test databases failed ({_first_line(exc)}); check "
                "DATABASES and that the database server accepts connections",
            )
        )
        return
    conn.send(WorkerReady(spec.slot, os.getpid(), spec.database_name))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if isinstance(message, StopWorker):
                break
            assert isinstance(message, RunUnit)
            _run_unit(conn, spec, groups, message, counter)
    finally:
        processes.kill_children(spare=guardian)
        connections.close_all()
        if dump_file is not None:
            faulthandler.unregister(signal.SIGUSR1)
            dump_file.close()


def _run_unit(
    conn: Connection,
    spec: WorkerSpec,
    groups: list[list[unittest.TestCase]],
    item: RunUnit,
    counter: _QueryCounter,
) -> None:
    tests = groups[item.unit]
    selected = [tests[i] for i in item.tests]
    index = {id(tests[i]): i for i in item.tests}
    result = EventResult(
        conn,
        spec.slot,
        item.unit,
        index,
        failfast=spec.failfast,
        buffer=spec.buffer,
        debug_sql=spec.debug_sql,
    )
    conn.send(UnitStarted(spec.slot, item.unit))

    def announce(name: str | None, fixture_tests: tuple[int, ...], sets_up: bool) -> None:
        if name is None:
            conn.send(FixtureDone(spec.slot, item.unit))
        else:
            conn.send(FixtureStarted(spec.slot, item.unit, name, fixture_tests, sets_up))

    queries_before = counter.count
    started = time.time()
    FixtureSuite(selected, positions=index, announce=announce).run(result)
    finished = time.time()
    setup = (result.first_test_at or finished) - started
    peak, current = _memory_mb()
    conn.send(
        UnitDone(
            spec.slot,
            item.unit,
            finished - started,
            setup,
            counter.count - queries_before,
            peak,
            current,
        )
    )
