"""The child-process side: own connections, run one work unit at a time, send plain events.

A worker is started by the parent's pool with a :class:`WorkerSpec`. Under ``fork`` it inherits
the discovered suite; under ``spawn`` or ``forkserver`` it sets Django up again and rebuilds the
suite with the same runner and options, then checks it found exactly the parent's units.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import resource
import signal
import sys
import time
import unittest
import warnings
from multiprocessing.connection import Connection

from django.db import connections
from django.utils.module_loading import import_string

from concurrent_test_app import processes
from concurrent_test_app.databases.attach import connect_worker
from concurrent_test_app.exceptions import SuiteMismatchError
from concurrent_test_app.protocol import (
    RUNNER_FACTORY,
    FixtureDone,
    FixtureStarted,
    RunUnit,
    StopWorker,
    UnitDone,
    UnitStarted,
    WorkerFailed,
    WorkerReady,
    WorkerSpec,
)
from concurrent_test_app.suite import describe_units, group_units, select_units, units_digest
from concurrent_test_app.worker.events import EventResult, Outbox, QueryCounter
from concurrent_test_app.worker.fixtures import FixtureSuite

logger = logging.getLogger(__name__)


def _rebuild_units(spec: WorkerSpec) -> list[list[unittest.TestCase]]:
    """Set Django up in a fresh process and discover the same suite as the parent."""
    import django

    django.setup()
    # By its dotted path, at run time: the worker never imports the parent's runner module
    # (import-linter keeps it so); the runner imports models, so only after setup() anyway.
    concurrent_runner_class = import_string(RUNNER_FACTORY)

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
        raise SuiteMismatchError(
            "The worker discovered a different suite than the parent; make test discovery "
            "deterministic or use --start-method fork."
        )
    return groups


class MarkingSuite(FixtureSuite):
    """A FixtureSuite that tells the result each test is about to run, its set-up included.

    unittest's TestSuite.run calls ``_handleClassSetUp`` for every test, last before the
    test itself (and skips the test when a class or module set-up failed, as here).
    """

    def _handleClassSetUp(self, test: unittest.TestCase, result: unittest.TestResult) -> None:
        super()._handleClassSetUp(test, result)
        if getattr(test.__class__, "_classSetupFailed", False) or getattr(
            result, "_moduleSetUpFailed", False
        ):
            return
        if isinstance(result, EventResult):
            result.about_to_run(test)


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
    conn: Connection,
    spec: WorkerSpec,
    groups: list[list[unittest.TestCase]] | None = None,
    events: Connection | None = None,
) -> None:
    """Run in the worker: connect, then run the units the parent sends until told to stop.

    ``conn`` carries the parent's orders and the messages that wake it; the test events go
    to ``events`` (to ``conn`` without one), which the parent reads on its own time.
    """
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
    groups = _discover(conn, spec, groups)
    counter = _connect(conn, spec) if groups is not None else None
    if groups is None or counter is None:
        return  # the parent was told why (WorkerFailed)
    conn.send(WorkerReady(spec.slot, os.getpid(), spec.database_name))
    try:
        _serve(Outbox(events or conn, conn), spec, groups, counter)
    finally:
        processes.kill_children(spare=guardian)
        connections.close_all()
        if dump_file is not None:
            faulthandler.unregister(signal.SIGUSR1)
            dump_file.close()


def _discover(
    conn: Connection, spec: WorkerSpec, groups: list[list[unittest.TestCase]] | None
) -> list[list[unittest.TestCase]] | None:
    """Return the suite's units (rebuilt unless inherited); None once the parent is told why."""
    try:
        if groups is None or spec.rebuild:
            return _rebuild_units(spec)
    except Exception as exc:
        conn.send(
            WorkerFailed(
                spec.slot,
                f"discovering the suite failed ({_first_line(exc)}); make discovery "
                "deterministic or pass --start-method fork",
            )
        )
        return None
    return groups


def _connect(conn: Connection, spec: WorkerSpec) -> QueryCounter | None:
    """Connect to this worker's clones and count its queries; None once the parent is told why."""
    try:
        connect_worker(spec.slot, spec.database_settings, restore=spec.rebuild)
        counter = QueryCounter()
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
        return None
    return counter


def _serve(
    outbox: Outbox,
    spec: WorkerSpec,
    groups: list[list[unittest.TestCase]],
    counter: QueryCounter,
) -> None:
    """Run the units the parent sends, one at a time, until it says stop or its pipe closes."""
    while True:
        try:
            message = outbox.control.recv()
        except EOFError:
            return
        if isinstance(message, StopWorker):
            return
        assert isinstance(message, RunUnit)
        _run_unit(outbox, spec, groups, message, counter)


def _run_unit(
    outbox: Outbox,
    spec: WorkerSpec,
    groups: list[list[unittest.TestCase]],
    item: RunUnit,
    counter: QueryCounter,
) -> None:
    tests = groups[item.unit]
    selected = [tests[i] for i in item.tests]
    index = {id(tests[i]): i for i in item.tests}
    result = EventResult(
        outbox,
        spec.slot,
        item.unit,
        index,
        failfast=spec.failfast,
        buffer=spec.buffer,
        debug_sql=spec.debug_sql,
    )
    # Held until the first fixture or test begins: nothing of the unit's own runs before.
    outbox.put(UnitStarted(spec.slot, item.unit))

    def announce(name: str | None, fixture_tests: tuple[int, ...], sets_up: bool) -> None:
        if name is None:
            outbox.put(FixtureDone(spec.slot, item.unit))
        else:
            entered = FixtureStarted(
                spec.slot, item.unit, name, fixture_tests, sets_up, at=time.time()
            )
            outbox.send(entered)

    queries_before = counter.count
    started = time.time()
    MarkingSuite(selected, positions=index, announce=announce).run(result)
    finished = time.time()
    setup = (result.first_test_at or finished) - started
    peak, current = _memory_mb()
    outbox.ring(
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
