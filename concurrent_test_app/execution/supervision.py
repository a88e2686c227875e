"""The pool's supervision: deaths, timeouts, restarts, recycling and fresh clones.

A worker is lost when it dies, hangs past a limit, or does not exit when asked to stop. Every
such loss goes through one place, :meth:`Supervision._lost`: it ends the worker and everything
it started, reports what the worker was doing as an error under a stable id that names the
cause (the test it was running, the class or module fixture it was in, as serial reports an
exception there, or the pool's own pseudo-id when it was between units or starting), queues
the rest of its unit again, and replaces the worker within one restart cap. Recycling and
fresh clones stop an idle worker and start another in its slot; one that will not stop is
lost like any other.
"""

from __future__ import annotations

import abc
import logging
import os
import signal
import time
import unittest
from collections.abc import Callable, Iterable

from concurrent_test_app import processes
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.exceptions import CloneUnavailableError
from concurrent_test_app.execution.limits import PoolLimits
from concurrent_test_app.execution.replay import outcome_of, replay
from concurrent_test_app.execution.scheduler import Scheduler
from concurrent_test_app.execution.workers import (
    STOP_GRACE_SECONDS,
    WorkerHandle,
    wait_for_exit,
)
from concurrent_test_app.protocol import (
    CaseInfo,
    ResultCall,
    RunUnit,
    WorkerSettings,
    WorkUnitSpec,
)
from concurrent_test_app.reports.records import Ledger, WorkerRecord

logger = logging.getLogger(__name__)

# How long a worker that is being ended gets between SIGTERM and SIGKILL: coverage's
# ``sigterm = true`` saves the worker's data in that time; a worker without such a handler
# ends at once, so only a worker that ignores SIGTERM ever waits this long.
TERM_GRACE_SECONDS = 3.0

# The pool's own pseudo-ids, for a worker lost outside any unit (unittest has none for that).
BETWEEN_UNITS_ID = "concurrent_test (worker {slot}: between units)"
START_UP_ID = "concurrent_test (worker {slot}: start-up)"
RESTART_FLAGS = "--max-restarts or DJANGO_TEST_MAX_WORKER_RESTARTS"


class Supervision(abc.ABC):
    """Watch the pool's workers and handle every one that is lost; the pool adds dispatch.

    :class:`~concurrent_test_app.execution.pool.WorkerPool` holds the state declared here and
    supplies the hooks: start a worker, read what a worker sent, replay its result calls.
    """

    units: list[WorkUnitSpec]
    scheduler: Scheduler
    databases: WorkerDatabases
    limits: PoolLimits
    result: unittest.TestResult
    ledger: Ledger
    records: dict[int, WorkerRecord]
    workers: dict[int, WorkerHandle]
    on_case: Callable[[str], None] | None
    log: Callable[[str], None]
    restarts: int
    _signal: int | None  # the signal that stopped the run, once one did
    _gone: dict[int, float]  # slot -> when its last worker ended

    @abc.abstractmethod
    def _start(self, slot: int, settings: WorkerSettings) -> None:
        """Start a worker in ``slot`` on the databases of ``settings``."""

    @abc.abstractmethod
    def _drain(self, worker: WorkerHandle) -> None:
        """Handle every message the worker has sent so far."""

    @abc.abstractmethod
    def _replay(self, worker: WorkerHandle, calls: tuple[ResultCall, ...]) -> None:
        """Replay result calls of the worker's current unit onto the run's result."""

    def _stopping(self) -> bool:
        return bool(self.result.shouldStop) or self._signal is not None

    def _say(self, message: str) -> None:
        """Tell the user (through the runner's log or the progress display) and the log."""
        logger.debug(message)
        self.log(message)

    # -- ending workers --------------------------------------------------------------------

    def _stop_all(self) -> None:
        """Ask every worker left to stop, wait a little, then end them all."""
        workers = list(self.workers.values())
        for worker in workers:
            if not worker.has_exited():
                worker.ask_to_stop()
        wait_for_exit(workers, time.monotonic() + STOP_GRACE_SECONDS)
        self._end_all(workers)

    def _end_all(self, workers: list[WorkerHandle]) -> None:
        """End ``workers`` and everything they started; reap them and forget them.

        A worker still alive gets SIGTERM first and TERM_GRACE_SECONDS to go (coverage saves
        its data then), then SIGKILL for its whole process group.
        """
        workers = [w for w in workers if not w.ended]
        alive = [w for w in workers if not w.has_exited()]
        for worker in alive:
            try:
                os.kill(worker.pid, signal.SIGTERM)
            except OSError:
                pass
        wait_for_exit(alive, time.monotonic() + TERM_GRACE_SECONDS)
        for worker in workers:
            # Before the worker is reaped, so that its group's id cannot be anybody else's.
            processes.kill_group(worker.pid)
            worker.process.join()
            worker.conn.close()
            if worker.events is not None:
                worker.events.close()
            worker.ended = True
            if self.workers.get(worker.slot) is worker:
                del self.workers[worker.slot]
                self._gone[worker.slot] = time.monotonic()

    def _check_exits(self) -> None:
        """Notice workers that ended while a process they started still holds their pipes."""
        for worker in list(self.workers.values()):
            if worker.has_exited():
                self._drain(worker)
                self._handle_exit(worker)

    def _handle_exit(self, worker: WorkerHandle) -> None:
        """The worker's process ended: a clean stop, or a death to report."""
        if self.workers.get(worker.slot) is not worker:
            return
        # The pipe may close a moment before the process is gone: a spawned worker closes it
        # while its interpreter shuts down. Let it finish rather than kill it on the way out.
        wait_for_exit([worker], time.monotonic() + STOP_GRACE_SECONDS)
        self._end_all([worker])
        if worker.stopping and worker.process.exitcode == 0:
            return
        self._lost(worker, worker.death())

    # -- time limits -----------------------------------------------------------------------

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.item is None:
                if worker.stopping and now - worker.stop_sent > STOP_GRACE_SECONDS:
                    self._lost(worker, worker.stop_overdue())
                continue
            if worker.fixture is not None:
                fixture = worker.fixture
                test = fixture.tests[0] if fixture.of_class and fixture.tests else None
                limit = self.limits.for_fixture(worker.item.unit, test)
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
                limit = self.limits.for_test(worker.item.unit, worker.current_test)
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

    def _time_out(self, worker: WorkerHandle, headline: str) -> None:
        stacks = worker.stacks()
        self._drain(worker)
        if self.workers.get(worker.slot) is not worker or worker.item is None:
            return
        message = headline + "."
        if stacks:
            message += "\n\nStack of every thread of the worker at that moment:\n" + stacks
        self._lost(worker, message)

    # -- the one place for a lost worker ---------------------------------------------------

    def _lost(self, worker: WorkerHandle, cause: str, *, replace: bool = True) -> None:
        """Handle a worker that died, hung or would not stop: the one place for all of them.

        It ends the worker and what it started, reports what the worker was doing as an error
        that names ``cause``, queues the rest of its unit again and replaces it while work
        is left (``replace=False`` when the caller starts the next worker itself).
        """
        self._end_all([worker])
        self._charge(worker, cause)
        if replace and len(self.scheduler):
            self._replace(worker, cause)

    def _charge(self, worker: WorkerHandle, cause: str) -> None:
        """Report what a lost worker was doing as an error naming ``cause``; re-queue the rest."""
        slot, item = worker.slot, worker.item
        if worker.queued is not None:
            # Sent ahead and never begun: it goes back whole.
            self._put_back(worker.queued.unit, worker.queued.tests)
            worker.queued = None
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
            # As serial reports an exception in a fixture: once, though every piece of a split
            # class runs the class fixtures. A failed set-up means its tests do not run, and
            # the unit is not retried for them.
            self._pseudo_error(fixture.name, cause, slot, unit, piece=item)
            if fixture.sets_up:
                for test in remaining:
                    if test in fixture.tests:
                        self.ledger.mark_not_run(unit, test, f"not run: {fixture.name} failed")
                remaining = [test for test in remaining if test not in fixture.tests]
        elif worker.current_test is not None or remaining:
            # In a test, or just before one (Django's _pre_setup runs before startTest).
            victim = worker.current_test if worker.current_test is not None else remaining[0]
            self._replay(worker, _error_calls(victim, cause))
            remaining = [test for test in remaining if test != victim]
        else:
            self._pseudo_error(BETWEEN_UNITS_ID.format(slot=slot), cause, slot)
        worker.item = None
        self._put_back(item.unit, remaining)

    def _pseudo_error(
        self,
        name: str,
        message: str,
        slot: int | None,
        unit: WorkUnitSpec | None = None,
        piece: RunUnit | None = None,
    ) -> None:
        """Report an error under a pseudo-id, as unittest reports one of a class fixture.

        Like serial's, it is an error of the run but not a test: "Ran N tests" leaves it out.
        A fixture of a split class that another piece already reported is not reported again.
        """
        calls: tuple[ResultCall, ...] = (
            ResultCall("addError", -1, holder=CaseInfo(name, name), error=message),
        )
        if piece is not None:
            calls = self.ledger.first_reports(unit, piece, calls)
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

    def _count(self, calls: tuple[ResultCall, ...]) -> None:
        """Tell the progress display how a finished test ended."""
        if self.on_case is not None:
            self.on_case(outcome_of(calls))

    def _fail_queued(self, message: str, slot: int | None = None) -> None:
        """Report every test still queued as an error: no worker is left to run it."""
        for item in self.scheduler.drain():
            unit = self.units[item.unit]
            for test in item.tests:
                calls = _error_calls(test, message)
                replay(self.result, unit, calls)
                self.ledger.add(slot, unit, calls)
                self._count(calls)

    # -- restarts, and a slot whose fresh clone cannot be made -----------------------------

    def _replace(self, worker: WorkerHandle, cause: str) -> None:
        if self._stopping():
            return
        if self.restarts >= self.limits.max_restarts:
            self._say(
                f"[CONCURRENT] Not replacing worker {worker.slot}: {self.restarts} restarts "
                f"reached ({RESTART_FLAGS})"
            )
            self.scheduler.release_slot(worker.slot)
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

    def _takers(self) -> list[WorkerHandle]:
        """Return the workers that may still take queued work (not told to stop)."""
        return [worker for worker in self.workers.values() if not worker.stopping]

    def _start_on_fresh_clone(self, slot: int) -> None:
        """Start a worker in ``slot`` on a fresh clone; without one, go on without the slot."""
        try:
            settings = self.databases.prepare_slot(slot)
        except CloneUnavailableError as exc:
            self._lose_slot(slot, str(exc))
            return
        self.scheduler.clone_replaced(slot)
        self._start(slot, settings)

    def _lose_slot(self, slot: int, reason: str) -> None:
        """Go on without ``slot``; with no worker left, each queued test is an error naming why."""
        self._say(f"[CONCURRENT] Worker {slot} is not started again: {reason}")
        self.scheduler.release_slot(slot)
        if not self._takers():
            self._fail_queued(
                f"Not run: {reason}, and no other worker was left to run this test.", slot
            )

    # -- recycling and fresh clones --------------------------------------------------------

    def _maybe_recycle(self, worker: WorkerHandle, rss_mb: float) -> None:
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

    def _refresh(self, worker: WorkerHandle) -> None:
        """Give a worker whose database a TransactionTestCase emptied a fresh clone."""
        logger.debug("Worker %s gets a fresh clone for the TestCase units left", worker.slot)
        self.records[worker.slot].refreshes += 1
        self._retire(worker)
        self._start_on_fresh_clone(worker.slot)

    def _retire(self, worker: WorkerHandle) -> None:
        """Stop an idle worker so that another takes its slot; a failed stop is a lost worker."""
        worker.ask_to_stop()
        still = wait_for_exit([worker], worker.stop_sent + STOP_GRACE_SECONDS)
        self._drain(worker)
        if still:
            self._lost(worker, worker.stop_overdue(), replace=False)
            return
        self._end_all([worker])
        if worker.process.exitcode != 0:
            self._lost(worker, worker.death(), replace=False)


def _error_calls(test: int, message: str) -> tuple[ResultCall, ...]:
    """Return the result calls of a test that ended in an error naming ``message``."""
    return (
        ResultCall("startTest", test),
        ResultCall("addError", test, error=message),
        ResultCall("stopTest", test),
    )
