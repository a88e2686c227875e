"""The parent side of a run: owned worker processes, the loop, dispatch and the messages.

The pool starts one process per slot (not a multiprocessing Pool, so that a single stuck or
dead worker can be killed and replaced), hands out work units one at a time as the scheduler
orders them, and replays every finished test onto the runner's unittest result as it arrives.
Everything about losing a worker (deaths, timeouts, restarts, recycling) is its
:class:`~concurrent_test_app.execution.supervision.Supervision`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import tempfile
import time
import unittest
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType

from concurrent_test_app import processes
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.exceptions import WorkerStartError
from concurrent_test_app.execution.dispatch import SAMPLE_SECONDS, Dispatch
from concurrent_test_app.execution.limits import PoolLimits
from concurrent_test_app.execution.outcome import PoolOutcome
from concurrent_test_app.execution.replay import replay
from concurrent_test_app.execution.scaling import MemoryGate, rss_mb
from concurrent_test_app.execution.scheduler import Scheduler
from concurrent_test_app.execution.supervision import Supervision
from concurrent_test_app.execution.workers import Fixture, WorkerHandle
from concurrent_test_app.protocol import (
    Batch,
    CaseCalls,
    CaseStarted,
    FixtureDone,
    FixtureStarted,
    ResultCall,
    UnitDone,
    UnitStarted,
    WorkerFailed,
    WorkerReady,
    WorkerSettings,
    WorkerSpec,
    WorkUnitSpec,
)
from concurrent_test_app.reports.records import Ledger, UnitRecord, WorkerRecord
from concurrent_test_app.worker.main import worker_main

logger = logging.getLogger(__name__)

# How often the loop wakes up to check the time limits and for workers that are gone.
WAKEUP_SECONDS = 0.25


class WorkerPool(Supervision, Dispatch):
    """Run the units of a suite on ``workers`` processes and replay the results onto ``result``."""

    def __init__(
        self,
        *,
        units: list[WorkUnitSpec],
        groups: list[list[unittest.TestCase]],
        scheduler: Scheduler,
        databases: WorkerDatabases,
        workers: int,
        spec_template: WorkerSpec,
        limits: PoolLimits,
        result: unittest.TestResult,
        ledger: Ledger,
        log: Callable[[str], None],
        on_case: Callable[[str], None] | None = None,
    ) -> None:
        self.units = units
        self.groups = groups
        self.scheduler = scheduler
        self.databases = databases
        self.size = workers
        self.spec_template = spec_template
        self.limits = limits
        self.result = result
        self.ledger = ledger
        self.on_case = on_case
        self.log = log
        self.context = multiprocessing.get_context()
        self.records = {slot: WorkerRecord(slot) for slot in range(1, workers + 1)}
        self.workers: dict[int, WorkerHandle] = {}
        self.restarts = 0
        self.outcome = PoolOutcome()
        self._pid = os.getpid()
        self._signal: int | None = None
        self._started = 0.0
        self._born: dict[int, float] = {}  # slot -> when its first worker started
        self._gone: dict[int, float] = {}
        self._dump_dir = tempfile.mkdtemp(prefix="concurrent-test-")
        self.memory_gate = MemoryGate()
        self._gate_checked = float("-inf")
        self._gate_paused = False
        self._sampled = 0.0
        self._exits_checked = 0.0

    # -- life cycle ------------------------------------------------------------------------

    def run(self) -> PoolOutcome:
        """Run everything the scheduler holds; return how the run ended."""
        self._started = time.monotonic()
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            settings = self.databases.prepare_slots(sorted(self.records))
            for slot in self.records:
                self._start(slot, settings[slot])
            self._loop()
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for path in Path(self._dump_dir).glob("*"):
                path.unlink(missing_ok=True)
            os.rmdir(self._dump_dir)
        ended = time.monotonic()
        self.outcome.wall_seconds = ended - self._started
        for slot, record in self.records.items():
            record.life_seconds = self._gone.get(slot, ended) - self._born.get(slot, ended)
        self.outcome.workers = [self.records[slot] for slot in sorted(self.records)]
        return self.outcome

    @processes.parent_handler
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:
            # A forked worker inherited this handler: there the signal does what it does
            # by default (after coverage's own handler, when it has one, saved its data).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self._signal is None:
            self._signal = signum
            self.result.stop()

    def _start(self, slot: int, settings: WorkerSettings) -> None:
        parent_conn, child_conn = self.context.Pipe(duplex=True)
        events, child_events = self.context.Pipe(duplex=False)
        processes.widen_pipe(child_events.fileno())
        dump_path = os.path.join(self._dump_dir, f"worker-{slot}-{self.restarts}.txt")
        direct = self.context.get_start_method() in ("fork", "spawn")
        spec = WorkerSpec(
            **{
                **self.spec_template.__dict__,
                "slot": slot,
                "database_settings": settings,
                "database_name": self.databases.database_name(slot),
                "dump_path": dump_path,
                # Under forkserver the server is the worker's parent, not this process.
                "parent_pid": os.getpid() if direct else 0,
            }
        )
        # Under fork the child inherits the discovered tests; elsewhere it rebuilds them.
        groups = self.groups if not spec.rebuild else None
        # Not daemonic: code under test may start processes of its own, as in serial. The
        # pool ends each worker with everything it started (see processes.py).
        process = self.context.Process(
            target=worker_main,
            args=(child_conn, spec, groups, child_events),
            name=f"concurrent-test-worker-{slot}",
            daemon=False,
        )
        process.start()
        assert process.pid is not None  # started just above
        processes.adopt_process_group(process.pid)
        child_conn.close()
        child_events.close()
        self.workers[slot] = WorkerHandle(
            slot, process, process.pid, parent_conn, dump_path, events=events
        )
        self.records[slot].database = spec.database_name
        self._born.setdefault(slot, time.monotonic())

    # -- the loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        while self.workers and not self._run_cut_short():
            self._dispatch()
            if not self.workers:
                break
            self._wait_and_read()
            if time.monotonic() - self._exits_checked >= WAKEUP_SECONDS:
                # It reads the process table: once a tick is enough (sentinels say the rest).
                self._exits_checked = time.monotonic()
                self._check_exits()
            self._check_timeouts()
            self._sample_memory()
        if len(self.scheduler):
            # Only when no worker was left to take them (see _replace and _lose_slot).
            self._fail_queued("Not run: no worker was left to run this test.")

    def _run_cut_short(self) -> bool:
        """Abandon the run if a signal, --failfast or the global timeout ends it; say whether."""
        if self._signal is not None:
            self.outcome.interrupted = self._signal
            self._abandon("not run: the run was interrupted")
            return True
        if self.result.shouldStop:
            # --failfast: like serial, nothing runs after the first failure.
            self._abandon("not run: --failfast stopped the run after the first failure")
            return True
        deadline = self.limits.global_deadline
        if deadline is not None and time.monotonic() >= deadline:
            self.outcome.global_timeout = True
            self._abandon("not run: the global timeout cut the run short")
            return True
        return False

    def _wait_and_read(self) -> None:
        """Wait up to WAKEUP_SECONDS for a message or an exit; read every worker's events."""
        waitables: list[Connection | int] = []
        for running in self.workers.values():
            waitables.extend((running.conn, running.process.sentinel))
        ready_now = wait(waitables, timeout=WAKEUP_SECONDS)
        for running in list(self.workers.values()):
            self._read_events(running)
        for ready in ready_now:
            owner = self._owner(ready)
            if owner is None:
                continue
            self._drain(owner)
            if owner.eof or ready is not owner.conn:
                # The pipe closed or the process ended: either way it is gone.
                self._handle_exit(owner)

    def _sample_memory(self) -> None:
        now = time.monotonic()
        if now - self._sampled < SAMPLE_SECONDS:
            return
        self._sampled = now
        for worker in self.workers.values():
            worker.peak_rss_mb = max(worker.peak_rss_mb, rss_mb(worker.pid))

    def _owner(self, waitable: object) -> WorkerHandle | None:
        for worker in self.workers.values():
            if waitable is worker.conn or waitable == worker.process.sentinel:
                return worker
        return None

    def _read_events(self, worker: WorkerHandle) -> None:
        """Handle every event the worker wrote to its events pipe so far."""
        events = worker.events
        while events is not None and not events.closed:
            try:
                if not events.poll():
                    return
                message = events.recv()
            except (EOFError, OSError):
                return
            self._handle(worker, message)

    def _drain(self, worker: WorkerHandle) -> None:
        """Handle everything the worker sent: its events first, then its control messages."""
        self._read_events(worker)
        while True:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.eof = True
                return
            # Events written before this message are in the pipe already: read them first.
            self._read_events(worker)
            self._handle(worker, message)

    # -- messages --------------------------------------------------------------------------

    def _handle(self, worker: WorkerHandle, message: object) -> None:
        # The most frequent first: one batch and one test's calls per test.
        if isinstance(message, Batch):
            for held in message.messages:
                self._handle(worker, held)
        elif isinstance(message, CaseCalls):
            self._replay(worker, message.calls)
        elif isinstance(message, CaseStarted):
            if message.test >= 0:
                worker.current_test = message.test
                worker.test_started = _since(message.at)
        elif isinstance(message, WorkerReady):
            worker.ready = True
        elif isinstance(message, WorkerFailed):
            raise WorkerStartError(message.slot, message.message)
        elif isinstance(message, UnitStarted):
            worker.taken = worker.item is not None and worker.item.unit == message.unit
            worker.last_unit = self.units[message.unit].key
        elif isinstance(message, FixtureStarted):
            worker.current_test = None
            started = _since(message.at) if message.at else time.monotonic()
            worker.fixture = Fixture(message.name, message.tests, message.sets_up, started)
        elif isinstance(message, FixtureDone):
            worker.fixture = None
        elif isinstance(message, UnitDone):
            self._unit_done(worker, message)

    def _unit_done(self, worker: WorkerHandle, message: UnitDone) -> None:
        """Record the unit the worker finished, close it, and recycle the worker if it is due."""
        unit = self.units[message.unit]
        record = self.records[worker.slot]
        offset = time.monotonic() - self._started
        record.timeline.append((unit.key, offset - message.seconds, offset))
        record.units += 1
        record.busy_seconds += message.seconds
        record.setup_seconds += message.setup_seconds
        record.queries += message.queries
        record.memory_peak_mb = max(record.memory_peak_mb, message.memory_peak_mb)
        self.ledger.unit_records.append(
            UnitRecord(unit.key, worker.slot, message.seconds, message.setup_seconds)
        )
        if worker.fixture_problem is not None:
            reason = f"not run: {worker.fixture_problem}"
        elif self.result.shouldStop:
            reason = "not run: --failfast stopped the run after the first failure"
        else:
            reason = "not run: the unit ended before reaching it"
        self._finish_item(worker, reason)
        worker.units_run += 1
        worker.peak_rss_mb = max(worker.peak_rss_mb, message.memory_peak_mb)
        if worker.queued is not None:
            # Sent ahead: the worker has started it already.
            worker.assign(worker.queued)
            worker.queued = None
        else:
            self._maybe_recycle(worker, message.rss_mb)

    def _replay(self, worker: WorkerHandle, calls: tuple[ResultCall, ...]) -> None:
        assert worker.item is not None
        unit = self.units[worker.item.unit]
        for call in calls:
            if call.holder is not None and call.method in ("addError", "addSkip"):
                verb = "failed" if call.method == "addError" else "was skipped"
                worker.fixture_problem = f"{call.holder.id} {verb}"
        calls = self.ledger.first_reports(unit, worker.item, calls)
        replay(self.result, unit, calls)
        self.ledger.add(worker.slot, unit, calls)
        finished = [call.test for call in calls if call.method == "stopTest" and call.test >= 0]
        if finished:
            worker.finished.update(finished)
            worker.current_test = None
            self.records[worker.slot].tests += len(finished)
            self._count(calls)

    def _finish_item(self, worker: WorkerHandle, reason: str) -> None:
        """Close the worker's current item: tests it never reached are reported not_run."""
        item = worker.item
        if item is None:
            return
        unit = self.units[item.unit]
        for test in item.tests:
            if test not in worker.finished and not self.ledger.ran(item.unit, test):
                self.ledger.mark_not_run(unit, test, reason)
        worker.item = None
        worker.taken = False
        worker.current_test = None
        worker.fixture = None

    def _abandon(self, reason: str) -> None:
        """Stop everything now; every test that did not finish is reported not_run."""
        for worker in self.workers.values():
            if worker.item is not None:
                self._finish_item(worker, reason)
            if worker.queued is not None:
                for test in worker.queued.tests:
                    self.ledger.mark_not_run(self.units[worker.queued.unit], test, reason)
                worker.queued = None
        self._end_all(list(self.workers.values()))
        for item in self.scheduler.drain():
            unit = self.units[item.unit]
            for test in item.tests:
                self.ledger.mark_not_run(unit, test, reason)


def _since(at: float) -> float:
    """Return the monotonic time of ``at``, a worker's time.time() (read later, maybe)."""
    return time.monotonic() - max(0.0, time.time() - at)
