"""The parent side of a run: owned worker processes, dispatch, timeouts, crash recovery.

The pool starts one process per slot (not a multiprocessing Pool, so that a single stuck or
dead worker can be killed and replaced), hands out work units one at a time as the scheduler
orders them, replays every finished test onto the runner's unittest result as it arrives, and
enforces the per-test, per-worker and global timeouts. A worker that hangs or dies is killed and
replaced with a fresh clone of its databases. Whatever it was doing becomes an error under a
stable id that names the cause: the test it was running, the class or module fixture it was in
(unittest's pseudo-id, as serial reports an exception there), or the pool's own pseudo-id when
it was between units or starting. The rest of its unit is queued again, never silently dropped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import tempfile
import time
import unittest
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from concurrent_test_app import processes
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.exceptions import CloneUnavailableError, WorkerStartError
from concurrent_test_app.execution.replay import replay
from concurrent_test_app.execution.scaling import MemoryGate, rss_mb
from concurrent_test_app.execution.scheduler import Scheduler
from concurrent_test_app.protocol import (
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
    WorkerSpec,
    WorkUnitSpec,
)
from concurrent_test_app.reports.records import Ledger, UnitRecord, WorkerRecord
from concurrent_test_app.worker.main import worker_main

logger = logging.getLogger(__name__)

# How long a worker may take to exit after it was asked to stop, before it is killed.
STOP_GRACE_SECONDS = 10.0
# How long a worker that is being ended gets between SIGTERM and SIGKILL: coverage's
# ``sigterm = true`` saves the worker's data in that time; a worker without such a handler
# ends at once, so only a worker that ignores SIGTERM ever waits this long.
TERM_GRACE_SECONDS = 3.0
# How long the parent waits for faulthandler to write a timed-out worker's stacks.
DUMP_WAIT_SECONDS = 2.0
# How often the parent samples its workers' resident memory (for crash reports).
SAMPLE_SECONDS = 0.5
# How often the loop wakes up to check the time limits and for workers that are gone.
WAKEUP_SECONDS = 0.25

# The pool's own pseudo-ids, for a worker lost outside any unit (unittest has none for that).
BETWEEN_UNITS_ID = "concurrent_test (worker {slot}: between units)"
START_UP_ID = "concurrent_test (worker {slot}: start-up)"
RESTART_FLAGS = "--max-restarts or DJANGO_TEST_MAX_WORKER_RESTARTS"


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
    # (unit, a test of the class, or None for a module fixture) -> seconds
    fixture_limit: Callable[[int, int | None], float | None] | None = None


@dataclass
class PoolOutcome:
    global_timeout: bool = False
    interrupted: int | None = None  # the signal number that stopped the run
    workers: list[WorkerRecord] = field(default_factory=list)
    wall_seconds: float = 0.0


@dataclass
class _Fixture:
    """A class or module fixture a worker is in (see suites.FixtureSuite)."""

    name: str  # unittest's pseudo-id: "setUpClass (module.Class)"
    tests: tuple[int, ...]  # the unit's tests it belongs to
    sets_up: bool
    started: float

    @property
    def of_class(self) -> bool:
        return self.name.startswith(("setUpClass ", "tearDownClass "))


@dataclass
class _Worker:
    slot: int
    process: Any
    conn: Connection
    dump_path: str
    ready: bool = False
    stopping: bool = False
    stop_sent: float = 0.0
    item: RunUnit | None = None
    taken: bool = False  # the worker said it took ``item`` (UnitStarted)
    finished: set[int] = field(default_factory=set)
    current_test: int | None = None
    test_started: float = 0.0
    fixture: _Fixture | None = None
    unit_started: float = 0.0
    units_run: int = 0
    last_unit: str = ""
    eof: bool = False
    ended: bool = False  # killed (if need be), reaped and forgotten
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
        self._pid = os.getpid()
        self._signal: int | None = None
        self._started = 0.0
        self._born: dict[int, float] = {}  # slot -> when its first worker started
        self._gone: dict[int, float] = {}  # slot -> when its last worker ended
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
        ended = time.monotonic()
        self.outcome.wall_seconds = ended - self._started
        for slot, record in self.records.items():
            record.life_seconds = self._gone.get(slot, ended) - self._born.get(slot, ended)
        self.outcome.workers = [self.records[slot] for slot in sorted(self.records)]
        return self.outcome

    @processes.parent_handler
    def _on_signal(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._pid:
            # A forked worker inherited this handler: there the signal does what it does
            # by default (after coverage's own handler, when it has one, saved its data).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self._signal is None:
            self._signal = signum
            self.result.stop()

    def _start(self, slot: int, settings: dict[str, dict[str, Any]]) -> None:
        parent_conn, child_conn = self.context.Pipe(duplex=True)
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
            args=(child_conn, spec, groups),
            name=f"concurrent-test-worker-{slot}",
            daemon=False,
        )
        process.start()
        if process.pid is not None:
            processes.adopt_process_group(process.pid)
        child_conn.close()
        self.workers[slot] = _Worker(slot, process, parent_conn, dump_path)
        self.records[slot].database = spec.database_name
        self._born.setdefault(slot, time.monotonic())

    def _stop_all(self) -> None:
        """Ask every worker left to stop, wait a little, then end them all."""
        workers = list(self.workers.values())
        for worker in workers:
            if not processes.has_exited(worker.process.pid):
                try:
                    worker.conn.send(StopWorker())
                except OSError:
                    pass
        self._wait_for_exit(workers, time.monotonic() + STOP_GRACE_SECONDS)
        self._end_all(workers)

    def _wait_for_exit(self, workers: Iterable[_Worker], deadline: float) -> list[_Worker]:
        """Wait until every worker has exited or ``deadline`` passed; return those still alive."""
        alive = [w for w in workers if not processes.has_exited(w.process.pid)]
        while alive and time.monotonic() < deadline:
            # A sentinel closes when the worker exits, unless a process it started holds it.
            wait([w.process.sentinel for w in alive], timeout=WAKEUP_SECONDS / 5)
            alive = [w for w in alive if not processes.has_exited(w.process.pid)]
        return alive

    def _end_all(self, workers: list[_Worker]) -> None:
        """End ``workers`` and everything they started; reap them and forget them.

        A worker still alive gets SIGTERM first and TERM_GRACE_SECONDS to go (coverage saves
        its data then), then SIGKILL for its whole process group.
        """
        workers = [w for w in workers if not w.ended]
        alive = [w for w in workers if not processes.has_exited(w.process.pid)]
        for worker in alive:
            try:
                os.kill(worker.process.pid, signal.SIGTERM)
            except OSError:
                pass
        self._wait_for_exit(alive, time.monotonic() + TERM_GRACE_SECONDS)
        for worker in workers:
            # Before the worker is reaped, so that its group's id cannot be anybody else's.
            processes.kill_group(worker.process.pid)
            worker.process.join()
            worker.conn.close()
            worker.ended = True
            if self.workers.get(worker.slot) is worker:
                del self.workers[worker.slot]
                self._gone[worker.slot] = time.monotonic()

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
            for ready in wait(waitables, timeout=WAKEUP_SECONDS):
                owner = self._owner(ready)
                if owner is None:
                    continue
                self._drain(owner)
                if owner.eof or ready is not owner.conn:
                    # The pipe closed or the process ended: either way it is gone.
                    self._handle_exit(owner)
            self._check_exits()
            self._check_timeouts()
            self._sample_memory()
        if len(self.scheduler):
            # Only when no worker was left to take them (see _replace and _lose_slot).
            self._fail_queued("Not run: no worker was left to run this test.")

    def _check_exits(self) -> None:
        """Notice workers that ended while a process they started still holds their pipes."""
        for worker in list(self.workers.values()):
            if processes.has_exited(worker.process.pid):
                self._drain(worker)
                self._handle_exit(worker)

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
                worker.stop_sent = time.monotonic()
                try:
                    worker.conn.send(StopWorker())
                except OSError:
                    pass
                continue
            if self.units[item.unit].flushes:
                # Marked before it runs: an interrupted flush leaves the clone no cleaner.
                self.databases.mark_flushed(worker.slot)
            worker.item = item
            worker.taken = False
            worker.finished = set()
            worker.current_test = None
            worker.fixture = None
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
        elif isinstance(message, UnitStarted):
            worker.taken = worker.item is not None and worker.item.unit == message.unit
            worker.last_unit = self.units[message.unit].key
        elif isinstance(message, FixtureStarted):
            worker.current_test = None
            worker.fixture = _Fixture(
                message.name, message.tests, message.sets_up, time.monotonic()
            )
        elif isinstance(message, FixtureDone):
            worker.fixture = None
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
            self._count(calls)

    def _count(self, calls: tuple[ResultCall, ...]) -> None:
        """Tell the progress display how a finished test ended."""
        if self.on_case is None:
            return
        for call in calls:
            if call.method in _OUTCOME_CALLS:
                self.on_case(_OUTCOME_CALLS[call.method])
                return
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
        worker.taken = False
        worker.current_test = None
        worker.fixture = None

    # -- recycling and fresh clones --------------------------------------------------------

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
        self._retire(worker)
        # A recycled worker keeps its clone, flushed or not (the databases remember which).
        self._start(worker.slot, self.databases.reuse_slot(worker.slot))

    def _refresh(self, worker: _Worker) -> None:
        """Give a worker whose database a TransactionTestCase emptied a fresh clone."""
        logger.debug("Worker %s gets a fresh clone for the TestCase units left", worker.slot)
        self.records[worker.slot].refreshes += 1
        self._retire(worker)
        self._start_on_fresh_clone(worker.slot)

    def _retire(self, worker: _Worker) -> None:
        """Stop an idle worker so that another takes its slot; a failed stop is a lost worker."""
        worker.stopping = True
        worker.stop_sent = time.monotonic()
        try:
            worker.conn.send(StopWorker())
        except OSError:
            pass
        still = self._wait_for_exit([worker], worker.stop_sent + STOP_GRACE_SECONDS)
        self._drain(worker)
        if still:
            self._lost(worker, self._stop_overdue(worker), replace=False)
            return
        self._end_all([worker])
        if worker.process.exitcode != 0:
            self._lost(worker, self._death(worker), replace=False)

    # -- lost workers: deaths and hangs ----------------------------------------------------

    def _handle_exit(self, worker: _Worker) -> None:
        """The worker's process ended: a clean stop, or a death to report."""
        if self.workers.get(worker.slot) is not worker:
            return
        # The pipe may close a moment before the process is gone: a spawned worker closes it
        # while its interpreter shuts down. Let it finish rather than kill it on the way out.
        self._wait_for_exit([worker], time.monotonic() + STOP_GRACE_SECONDS)
        self._end_all([worker])
        if worker.stopping and worker.process.exitcode == 0:
            return
        self._lost(worker, self._death(worker))

    def _death(self, worker: _Worker) -> str:
        """Return the error message of a worker that died by itself, naming the cause."""
        peak = worker.peak_rss_mb
        memory = f" (peak memory {peak:.0f} MB)" if peak else ""
        return (
            f"Worker {worker.slot} (pid {worker.process.pid}) died with "
            f"{describe_exit(worker.process.exitcode)}{memory} {self._where(worker)}."
        )

    def _stop_overdue(self, worker: _Worker) -> str:
        return (
            f"Worker {worker.slot} (pid {worker.process.pid}) did not exit within "
            f"{STOP_GRACE_SECONDS:g} s of being asked to stop {self._where(worker)}, and was "
            "killed (does a test leave a thread running that is not a daemon?)."
        )

    def _where(self, worker: _Worker) -> str:
        """Return what the worker was doing, for its error message."""
        if not worker.ready:
            return "while starting, before it was ready for work"
        if worker.item is None or not worker.taken:
            after = f" (after {worker.last_unit})" if worker.last_unit else ""
            return f"between units{after}"
        if worker.fixture is not None:
            return f"while running {worker.fixture.name}"
        if worker.current_test is not None or set(worker.item.tests) - worker.finished:
            return "while running this test"
        return f"between units (after the last test of {worker.last_unit})"

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.item is None:
                if worker.stopping and now - worker.stop_sent > STOP_GRACE_SECONDS:
                    self._lost(worker, self._stop_overdue(worker))
                continue
            if worker.fixture is not None:
                fixture = worker.fixture
                limit = self._fixture_limit(worker.item.unit, fixture)
                if limit is not None and now - fixture.started > limit:
                    self._time_out(
                        worker,
                        f"{fixture.name} timed out after {limit:g} s on worker {worker.slot} "
                        "(the per-test limit, which a class or module fixture counts as one "
                        "test: @timeout on the class, --timeout-per-test or "
                        "DJANGO_TEST_TIMEOUT_PER_TEST)",
                    )
                    continue
            elif worker.current_test is not None:
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

    def _fixture_limit(self, unit: int, fixture: _Fixture) -> float | None:
        if self.limits.fixture_limit is not None:
            test = fixture.tests[0] if fixture.of_class and fixture.tests else None
            return self.limits.fixture_limit(unit, test)
        return self.limits.timeout_per_test

    def _time_out(self, worker: _Worker, headline: str) -> None:
        stacks = self._dump_stacks(worker)
        self._drain(worker)
        if self.workers.get(worker.slot) is not worker or worker.item is None:
            return
        message = headline + "."
        if stacks:
            message += "\n\nStack of every thread of the worker at that moment:\n" + stacks
        self._lost(worker, message)

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

    def _lost(self, worker: _Worker, cause: str, *, replace: bool = True) -> None:
        """Handle a worker that died, hung or would not stop: the one place for all of them.

        It ends the worker and what it started, reports what the worker was doing as an error
        that names ``cause``, queues the rest of its unit again and replaces it while work
        is left (``replace=False`` when the caller starts the next worker itself).
        """
        self._end_all([worker])
        self._charge(worker, cause)
        if replace and len(self.scheduler):
            self._replace(worker, cause)

    def _charge(self, worker: _Worker, cause: str) -> None:
        """Report what a lost worker was doing as an error naming ``cause``; re-queue the rest."""
        slot, item = worker.slot, worker.item
        if not worker.ready:
            self._pseudo_error(START_UP_ID.format(slot=slot), cause, slot)
            return
        if item is None or not worker.taken:
            # Lost after one unit and before it took the next: that unit never began.
            self._pseudo_error(BETWEEN_UNITS_ID.format(slot=slot), cause, slot)
            if item is not None:
                worker.item = None
                self._put_back(item.unit, item.tests)
            return
        unit = self.units[item.unit]
        remaining = [test for test in item.tests if test not in worker.finished]
        fixture = worker.fixture
        if fixture is not None:
            # As serial reports an exception in a fixture; a failed set-up means its tests
            # do not run, and the unit is not retried for them.
            self._pseudo_error(fixture.name, cause, slot, unit)
            if fixture.sets_up:
                for test in remaining:
                    if test in fixture.tests:
                        self.ledger.mark_not_run(unit, test, f"not run: {fixture.name} failed")
                remaining = [test for test in remaining if test not in fixture.tests]
        elif worker.current_test is not None or remaining:
            # In a test, or just before one (Django's _pre_setup runs before startTest).
            victim = worker.current_test if worker.current_test is not None else remaining[0]
            self._replay(
                worker,
                (
                    ResultCall("startTest", victim),
                    ResultCall("addError", victim, error=cause),
                    ResultCall("stopTest", victim),
                ),
            )
            remaining = [test for test in remaining if test != victim]
        else:
            self._pseudo_error(BETWEEN_UNITS_ID.format(slot=slot), cause, slot)
        worker.item = None
        self._put_back(item.unit, remaining)

    def _pseudo_error(
        self, name: str, message: str, slot: int | None, unit: WorkUnitSpec | None = None
    ) -> None:
        """Report an error under a pseudo-id, as unittest reports one of a class fixture.

        Like serial's, it is an error of the run but not a test: "Ran N tests" leaves it out.
        """
        calls = (ResultCall("addError", -1, holder=CaseInfo(name, name), error=message),)
        replay(self.result, unit, calls)
        self.ledger.add(slot, unit, calls)

    def _put_back(self, unit_index: int, tests: Iterable[int]) -> None:
        rest = tuple(tests)
        if not rest:
            return
        if self._stopping():
            unit = self.units[unit_index]
            for test in rest:
                self.ledger.mark_not_run(unit, test, "not run: the run stopped before reaching it")
        else:
            self.scheduler.requeue(RunUnit(unit_index, rest))

    def _replace(self, worker: _Worker, cause: str) -> None:
        if self._stopping():
            return
        if self.restarts >= self.limits.max_restarts:
            self._say(
                f"[CONCURRENT] Not replacing worker {worker.slot}: {self.restarts} restarts "
                f"reached ({RESTART_FLAGS})"
            )
            if not self._takers():
                self._fail_queued(
                    f"Not run: the worker restart limit of {self.limits.max_restarts} was "
                    f"reached ({RESTART_FLAGS}); raise it, or fix what ended the workers. The "
                    f"last one: {cause.splitlines()[0]}"
                )
            return
        self.restarts += 1
        self.records[worker.slot].restarts += 1
        self._say(f"[CONCURRENT] Replacing worker {worker.slot}: {cause.splitlines()[0]}")
        self._start_on_fresh_clone(worker.slot)

    def _takers(self) -> list[_Worker]:
        """Return the workers that may still take queued work (not told to stop)."""
        return [worker for worker in self.workers.values() if not worker.stopping]

    def _fail_queued(self, message: str, slot: int | None = None) -> None:
        """Report every test still queued as an error: no worker is left to run it."""
        for item in self.scheduler.drain():
            unit = self.units[item.unit]
            for test in item.tests:
                calls = (
                    ResultCall("startTest", test),
                    ResultCall("addError", test, error=message),
                    ResultCall("stopTest", test),
                )
                replay(self.result, unit, calls)
                self.ledger.add(slot, unit, calls)
                self._count(calls)

    # -- a slot whose fresh clone cannot be made (another run in the way) ------------------

    def _start_on_fresh_clone(self, slot: int) -> None:
        """Start a worker in ``slot`` on a fresh clone; without one, go on without the slot."""
        try:
            settings = self.databases.prepare_slot(slot)
        except CloneUnavailableError as exc:
            self._lose_slot(slot, str(exc))
            return
        self._start(slot, settings)

    def _lose_slot(self, slot: int, reason: str) -> None:
        """Go on without ``slot``; with no worker left, each queued test is an error naming why."""
        self._say(f"[CONCURRENT] Worker {slot} is not started again: {reason}")
        if not self._takers():
            self._fail_queued(
                f"Not run: {reason}, and no other worker was left to run this test.", slot
            )

    def _say(self, message: str) -> None:
        """Tell the user (through the runner's log or the progress display) and the log."""
        logger.debug(message)
        self.log(message)

    def _abandon(self, reason: str) -> None:
        """Stop everything now; every test that did not finish is reported not_run."""
        for worker in self.workers.values():
            if worker.item is not None:
                self._finish_item(worker, reason)
        self._end_all(list(self.workers.values()))
        for item in self.scheduler.drain():
            unit = self.units[item.unit]
            for test in item.tests:
                self.ledger.mark_not_run(unit, test, reason)


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
