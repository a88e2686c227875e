"""The parent side of a run: owned worker processes, dispatch, timeouts, crash recovery.

The pool starts one process per slot (not a multiprocessing Pool, so that a single stuck or
dead worker can be killed and replaced), hands out work units one at a time as the scheduler
orders them, replays every finished test onto the runner's unittest result as it arrives, and
enforces the per-test, per-worker and global timeouts. A worker that hangs or dies is killed and
replaced with a fresh clone of its databases; its in-flight test gets an error naming the cause,
and the rest of its unit is queued again, never silently dropped.
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
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .databases import WorkerDatabases
from .exceptions import CloneUnavailable
from .results import (
    CaseCalls,
    CaseStarted,
    Ledger,
    ResultCall,
    RunUnit,
    StopWorker,
    UnitDone,
    UnitRecord,
    WorkerFailed,
    WorkerReady,
    WorkerRecord,
    WorkUnitSpec,
    replay,
)
from .scaling import MemoryGate, rss_mb
from .scheduler import Scheduler
from .worker import WorkerSpec, worker_main

logger = logging.getLogger(__name__)

# How long a worker may take to exit after it was asked to stop, before it is killed.
STOP_GRACE_SECONDS = 10.0
# How long the parent waits for faulthandler to write a timed-out worker's stacks.
DUMP_WAIT_SECONDS = 2.0
# How often the parent samples its workers' resident memory (for crash reports).
SAMPLE_SECONDS = 0.5


@dataclass
class PoolLimits:
    """The limits the pool enforces (seconds, MB and counts; None means no limit)."""

    timeout_per_test: float | None = None
    timeout_per_worker: float | None = None
    global_deadline: float | None = None  # a time.monotonic() value
    max_restarts: int = 8
    max_worker_memory_mb: float | None = None
    max_units_per_worker: int | None = None
    test_limit: Callable[[int, int], float | None] | None = None  # (unit, test) -> seconds


@dataclass
class PoolOutcome:
    global_timeout: bool = False
    interrupted: int | None = None  # the signal number that stopped the run
    workers: list[WorkerRecord] = field(default_factory=list)
    wall_seconds: float = 0.0


@dataclass
class _Worker:
    slot: int
    process: Any
    conn: Connection
    dump_path: str
    ready: bool = False
    stopping: bool = False
    item: RunUnit | None = None
    finished: set[int] = field(default_factory=set)
    current_test: int | None = None
    test_started: float = 0.0
    unit_started: float = 0.0
    units_run: int = 0
    eof: bool = False
    peak_rss_mb: float = 0.0
    fixture_problem: str | None = None


class WorkerPool:
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
        result: Any,
        ledger: Ledger,
        on_case: Callable[[str], None] | None = None,
        log: Callable[[str], None] = print,
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
        self.workers: dict[int, _Worker] = {}
        self.restarts = 0
        self.outcome = PoolOutcome()
        self._signal: int | None = None
        self._started = 0.0
        self._dump_dir = tempfile.mkdtemp(prefix="concurrent-test-")
        self.memory_gate = MemoryGate()
        self._gate_checked = float("-inf")
        self._gate_paused = False
        self._sampled = 0.0

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
        self.outcome.wall_seconds = time.monotonic() - self._started
        self.outcome.workers = [self.records[slot] for slot in sorted(self.records)]
        return self.outcome

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signal is None:
            self._signal = signum
            self.result.stop()

    def _start(self, slot: int, settings: dict[str, dict[str, Any]]) -> None:
        parent_conn, child_conn = self.context.Pipe(duplex=True)
        dump_path = os.path.join(self._dump_dir, f"worker-{slot}-{self.restarts}.txt")
        spec = WorkerSpec(
            **{
                **self.spec_template.__dict__,
                "slot": slot,
                "database_settings": settings,
                "database_name": self.databases.database_name(slot),
                "dump_path": dump_path,
            }
        )
        # Under fork the child inherits the discovered tests; elsewhere it rebuilds them.
        groups = self.groups if not spec.rebuild else None
        process = self.context.Process(
            target=worker_main,
            args=(child_conn, spec, groups),
            name=f"concurrent-test-worker-{slot}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self.workers[slot] = _Worker(slot, process, parent_conn, dump_path)
        self.records[slot].database = spec.database_name

    def _stop_all(self) -> None:
        for worker in self.workers.values():
            if worker.process.is_alive():
                try:
                    worker.conn.send(StopWorker())
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in self.workers.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self.workers.clear()

    # -- the loop --------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return bool(self.result.shouldStop) or self._signal is not None

    def _loop(self) -> None:
        while self.workers:
            if self._signal is not None:
                self.outcome.interrupted = self._signal
                self._abandon("not run: the run was interrupted")
                return
            if self.result.shouldStop:
                # --failfast: like serial, nothing runs after the first failure.
                self._abandon("not run: --failfast stopped the run after the first failure")
                return
            deadline = self.limits.global_deadline
            if deadline is not None and time.monotonic() >= deadline:
                self.outcome.global_timeout = True
                self._abandon("not run: the global timeout cut the run short")
                return
            self._dispatch()
            if not self.workers:
                break
            waitables: list[Any] = []
            for running in self.workers.values():
                waitables.extend((running.conn, running.process.sentinel))
            for ready in wait(waitables, timeout=self._next_wakeup()):
                owner = self._owner(ready)
                if owner is None:
                    continue
                self._drain(owner)
                if owner.eof or ready is not owner.conn:
                    # The pipe closed or the process ended: either way it is gone.
                    owner.process.join(STOP_GRACE_SECONDS)
                    self._handle_exit(owner)
            self._check_timeouts()
            self._sample_memory()

    def _sample_memory(self) -> None:
        now = time.monotonic()
        if now - self._sampled < SAMPLE_SECONDS:
            return
        self._sampled = now
        for worker in self.workers.values():
            if worker.process.pid is not None:
                worker.peak_rss_mb = max(worker.peak_rss_mb, rss_mb(worker.process.pid))

    def _owner(self, waitable: Any) -> _Worker | None:
        for worker in self.workers.values():
            if waitable is worker.conn or waitable == worker.process.sentinel:
                return worker
        return None

    def _next_wakeup(self) -> float:
        return 0.25

    def _dispatch(self) -> None:
        idle = [
            worker
            for worker in self.workers.values()
            if worker.ready and worker.item is None and not worker.stopping
        ]
        if not idle:
            return
        busy = sum(1 for worker in self.workers.values() if worker.item is not None)
        if len(self.scheduler) and not self._stopping() and self._memory_low(busy):
            return
        for worker in idle:
            item = None
            if not self._stopping():
                # The databases know whether this slot's clones were emptied, whichever
                # process of the slot did it: a recycled worker keeps its predecessor's clone.
                dirty = self.databases.is_flushed(worker.slot)
                item = self.scheduler.next_item(worker.slot, dirty=dirty)
                if item is None and len(self.scheduler):
                    self._refresh(worker)
                    continue
            if item is None:
                worker.stopping = True
                try:
                    worker.conn.send(StopWorker())
                except OSError:
                    pass
                continue
            if self.units[item.unit].flushes:
                # Marked before it runs: an interrupted flush leaves the clone no cleaner.
                self.databases.mark_flushed(worker.slot)
            worker.item = item
            worker.finished = set()
            worker.current_test = None
            worker.fixture_problem = None
            worker.unit_started = time.monotonic()
            worker.conn.send(item)

    def _memory_low(self, busy: int) -> bool:
        """Ask the memory gate, at most every SAMPLE_SECONDS while workers are busy."""
        now = time.monotonic()
        if busy and now - self._gate_checked < SAMPLE_SECONDS:
            return self._gate_paused
        self._gate_checked = now
        self._gate_paused = self.memory_gate.should_pause(busy=busy)
        return self._gate_paused

    def _drain(self, worker: _Worker) -> None:
        while True:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.eof = True
                return
            self._handle(worker, message)

    # -- messages --------------------------------------------------------------------------

    def _handle(self, worker: _Worker, message: Any) -> None:
        record = self.records[worker.slot]
        if isinstance(message, WorkerReady):
            worker.ready = True
        elif isinstance(message, WorkerFailed):
            raise WorkerStartError(message.slot, message.message)
        elif isinstance(message, CaseStarted):
            if message.test >= 0:
                worker.current_test = message.test
                worker.test_started = time.monotonic()
        elif isinstance(message, CaseCalls):
            self._replay(worker, message.calls)
        elif isinstance(message, UnitDone):
            unit = self.units[message.unit]
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
            self._maybe_recycle(worker, message.rss_mb)

    def _replay(self, worker: _Worker, calls: tuple[ResultCall, ...]) -> None:
        assert worker.item is not None
        unit = self.units[worker.item.unit]
        for call in calls:
            if call.holder is not None and call.method in ("addError", "addSkip"):
                verb = "failed" if call.method == "addError" else "was skipped"
                worker.fixture_problem = f"{call.holder.id} {verb}"
        replay(self.result, unit, calls)
        self.ledger.add(worker.slot, unit, calls)
        finished = [call.test for call in calls if call.method == "stopTest" and call.test >= 0]
        if finished:
            worker.finished.update(finished)
            worker.current_test = None
            self.records[worker.slot].tests += len(finished)
            if self.on_case is not None:
                for call in calls:
                    if call.method in _OUTCOME_CALLS:
                        self.on_case(_OUTCOME_CALLS[call.method])
                        break
                else:
                    self.on_case("failed" if _any_subtest_failed(calls) else "passed")

    def _finish_item(self, worker: _Worker, reason: str) -> None:
        """Close the worker's current item: tests it never reached are reported not_run."""
        item = worker.item
        if item is None:
            return
        unit = self.units[item.unit]
        for test in item.tests:
            if test not in worker.finished and not self.ledger.ran(item.unit, test):
                self.ledger.mark_not_run(unit, test, reason)
        worker.item = None
        worker.current_test = None

    # -- recycling, crashes and timeouts ---------------------------------------------------

    def _maybe_recycle(self, worker: _Worker, rss_mb: float) -> None:
        limits = self.limits
        why = None
        if limits.max_worker_memory_mb is not None and rss_mb > limits.max_worker_memory_mb:
            why = f"its resident memory {rss_mb:.0f} MB passed {limits.max_worker_memory_mb:.0f} MB"
        elif limits.max_units_per_worker is not None and worker.units_run >= (
            limits.max_units_per_worker
        ):
            why = f"it ran {worker.units_run} unit{'s' if worker.units_run != 1 else ''}"
        if why is None or self._stopping() or not len(self.scheduler):
            return
        self._say(f"[CONCURRENT] Recycling worker {worker.slot}: {why}")
        self.records[worker.slot].recycles += 1
        self._retire(worker, graceful=True)
        # A recycled worker keeps its clone, flushed or not (the databases remember which).
        self._start(worker.slot, self.databases.reuse_slot(worker.slot))

    def _refresh(self, worker: _Worker) -> None:
        """Give a worker whose database a TransactionTestCase emptied a fresh clone."""
        logger.debug("Worker %s gets a fresh clone for the TestCase units left", worker.slot)
        self.records[worker.slot].refreshes += 1
        self._retire(worker, graceful=True)
        self._start_on_fresh_clone(worker.slot)

    def _retire(self, worker: _Worker, *, graceful: bool) -> None:
        if graceful:
            try:
                worker.conn.send(StopWorker())
            except OSError:
                pass
            worker.process.join(STOP_GRACE_SECONDS)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        if self.workers.get(worker.slot) is worker:
            del self.workers[worker.slot]

    def _handle_exit(self, worker: _Worker) -> None:
        if self.workers.get(worker.slot) is not worker:
            return
        exitcode = worker.process.exitcode
        if worker.item is None:
            # Between units or after StopWorker: a clean exit, or a crash with nothing lost.
            self._retire(worker, graceful=False)
            if not worker.stopping and len(self.scheduler) and not self._stopping():
                self._replace(worker, f"worker {worker.slot} exited with {describe_exit(exitcode)}")
            return
        peak = worker.peak_rss_mb
        memory = f" (peak memory {peak:.0f} MB)" if peak else ""
        cause = (
            f"Worker {worker.slot} (pid {worker.process.pid}) died with "
            f"{describe_exit(exitcode)}{memory} while running this test."
        )
        self._fail_in_flight(worker, cause)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.item is None:
                continue
            if worker.current_test is not None:
                limit = self._test_limit(worker.item.unit, worker.current_test)
                if limit is not None and now - worker.test_started > limit:
                    self._time_out(
                        worker,
                        f"Test timed out after {limit:g} s on worker {worker.slot} (the per-test "
                        "limit: @timeout, --adaptive-timeouts, --timeout-per-test or "
                        "DJANGO_TEST_TIMEOUT_PER_TEST)",
                    )
                    continue
            limit = self.limits.timeout_per_worker
            if limit is not None and now - worker.unit_started > limit:
                self._time_out(
                    worker,
                    f"Work unit timed out after {limit:g} s on worker {worker.slot} (the "
                    "per-worker limit: --timeout-per-worker or DJANGO_TEST_TIMEOUT_PER_WORKER)",
                )

    def _test_limit(self, unit: int, test: int) -> float | None:
        if self.limits.test_limit is not None:
            return self.limits.test_limit(unit, test)
        return self.limits.timeout_per_test

    def _time_out(self, worker: _Worker, headline: str) -> None:
        stacks = self._dump_stacks(worker)
        self._drain(worker)
        if self.workers.get(worker.slot) is not worker or worker.item is None:
            return
        message = headline + "."
        if stacks:
            message += "\n\nStack of every thread of the worker at that moment:\n" + stacks
        self._fail_in_flight(worker, message)

    def _dump_stacks(self, worker: _Worker) -> str:
        try:
            before = os.path.getsize(worker.dump_path)
        except OSError:
            before = 0
        try:
            os.kill(worker.process.pid, signal.SIGUSR1)
        except OSError:
            return ""
        # faulthandler writes from a signal handler; wait until the dump stops growing.
        deadline = time.monotonic() + DUMP_WAIT_SECONDS
        size, steady = before, 0
        while time.monotonic() < deadline and steady < 3:
            time.sleep(0.05)
            try:
                current = os.path.getsize(worker.dump_path)
            except OSError:
                break
            steady = steady + 1 if current == size and current > before else 0
            size = current
        try:
            with open(worker.dump_path) as handle:
                handle.seek(before)
                return handle.read().strip()
        except OSError:
            return ""

    def _fail_in_flight(self, worker: _Worker, cause: str) -> None:
        """Give the in-flight test an error naming ``cause``; re-queue the rest; replace it."""
        item = worker.item
        assert item is not None
        unit = self.units[item.unit]
        remaining = [t for t in item.tests if t not in worker.finished]
        victim = worker.current_test if worker.current_test is not None else None
        if victim is None and remaining:
            # It died outside a test (in class set-up, say): charge the first unfinished test,
            # so that a unit that always kills its worker cannot loop forever.
            victim = remaining[0]
        if victim is not None:
            calls = (
                ResultCall("startTest", victim),
                ResultCall("addError", victim, error=cause),
                ResultCall("stopTest", victim),
            )
            self._replay(worker, calls)
        rest = tuple(t for t in remaining if t != victim)
        worker.item = None
        worker.current_test = None
        self._retire(worker, graceful=False)
        record = self.records[worker.slot]
        if rest:
            if self._stopping():
                for test in rest:
                    self.ledger.mark_not_run(unit, test, "the run stopped before reaching it")
            else:
                self.scheduler.requeue(RunUnit(item.unit, rest))
        self._replace(worker, cause, record=record)

    def _replace(self, worker: _Worker, cause: str, record: WorkerRecord | None = None) -> None:
        if self._stopping():
            return
        if self.restarts >= self.limits.max_restarts:
            self._say(
                f"[CONCURRENT] Not replacing worker {worker.slot}: {self.restarts} restarts "
                "reached (--max-restarts / DJANGO_TEST_MAX_WORKER_RESTARTS)"
            )
            if not self.workers:
                self._abandon(
                    f"not run: the worker restart limit ({self.limits.max_restarts}) was reached"
                )
            return
        self.restarts += 1
        (record or self.records[worker.slot]).restarts += 1
        self._say(f"[CONCURRENT] Replacing worker {worker.slot}: {cause.splitlines()[0]}")
        self._start_on_fresh_clone(worker.slot)

    # -- a slot whose fresh clone cannot be made (another run in the way) ------------------

    def _start_on_fresh_clone(self, slot: int) -> None:
        """Start a worker in ``slot`` on a fresh clone; without one, go on without the slot."""
        try:
            settings = self.databases.prepare_slot(slot)
        except CloneUnavailable as exc:
            self._lose_slot(slot, str(exc))
            return
        self._start(slot, settings)

    def _lose_slot(self, slot: int, reason: str) -> None:
        """Go on without ``slot``; with no worker left, each queued test is an error naming why."""
        self._say(f"[CONCURRENT] Worker {slot} is not started again: {reason}")
        if self.workers:
            return
        error = f"Not run: {reason}, and no other worker was left to run this test."
        for item in self.scheduler.drain():
            unit = self.units[item.unit]
            for test in item.tests:
                calls = (
                    ResultCall("startTest", test),
                    ResultCall("addError", test, error=error),
                    ResultCall("stopTest", test),
                )
                replay(self.result, unit, calls)
                self.ledger.add(slot, unit, calls)
                if self.on_case is not None:
                    self.on_case("error")

    def _say(self, message: str) -> None:
        """Tell the user (through the runner's log or the progress display) and the log."""
        logger.debug(message)
        self.log(message)

    def _abandon(self, reason: str) -> None:
        """Stop everything now; every test that did not finish is reported not_run."""
        for worker in list(self.workers.values()):
            if worker.item is not None:
                self._finish_item(worker, reason)
            self._retire(worker, graceful=False)
        for item in self.scheduler.drain():
            unit = self.units[item.unit]
            for test in item.tests:
                self.ledger.mark_not_run(unit, test, reason)


class WorkerStartError(Exception):
    """A worker could not set itself up (its database, or discovering the suite)."""

    def __init__(self, slot: int, message: str) -> None:
        super().__init__(f"Worker {slot} could not start: {message}")
        self.slot = slot


_OUTCOME_CALLS = {
    "addFailure": "failed",
    "addError": "error",
    "addSkip": "skipped",
    "addExpectedFailure": "expected_failure",
    "addUnexpectedSuccess": "unexpected_success",
    "addSuccess": "passed",
}


def _any_subtest_failed(calls: tuple[ResultCall, ...]) -> bool:
    return any(call.method == "addSubTest" and call.error is not None for call in calls)


def describe_exit(exitcode: int | None) -> str:
    """Return how a process ended, in words: "exit code 3" or "signal SIGSEGV"."""
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        return f"signal {name}"
    return f"exit code {exitcode}"
