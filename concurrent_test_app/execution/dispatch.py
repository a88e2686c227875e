"""The pool's dispatch: which worker gets which unit, and when it gets the next one ahead.

Idle workers get the scheduler's next unit; a worker whose clone a TransactionTestCase emptied
gets a fresh clone first when only units that need clean rows are left. A worker running a
short unit gets its next one ahead, so that it starts it without a round trip to the parent.
"""

from __future__ import annotations

import abc
import logging
import time

from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.execution.limits import PoolLimits
from concurrent_test_app.execution.scaling import MemoryGate
from concurrent_test_app.execution.scheduler import Scheduler
from concurrent_test_app.execution.workers import WorkerHandle
from concurrent_test_app.protocol import RunUnit, WorkUnitSpec

logger = logging.getLogger(__name__)

# How often the parent samples its workers' resident memory (for crash reports) and, while
# workers are busy, asks the memory gate: both read the process table, which is not free.
SAMPLE_SECONDS = 0.5
# A worker running a unit expected to take at most this long gets its next unit ahead, so
# that it never waits for the parent between units (Django's --parallel feeds its pool from a
# queue the same way). Short, because the unit sent ahead waits behind the current one: at
# the end of the run another worker may be idle that long.
PREFETCH_SECONDS = 0.05


class Dispatch(abc.ABC):
    """Hand out the scheduler's units to the pool's workers (WorkerPool holds the state)."""

    units: list[WorkUnitSpec]
    scheduler: Scheduler
    databases: WorkerDatabases
    limits: PoolLimits
    workers: dict[int, WorkerHandle]
    memory_gate: MemoryGate
    _gate_checked: float
    _gate_paused: bool

    @abc.abstractmethod
    def _stopping(self) -> bool:
        """Return whether the run is stopping (a signal or --failfast)."""

    @abc.abstractmethod
    def _refresh(self, worker: WorkerHandle) -> None:
        """Give a worker whose database a TransactionTestCase emptied a fresh clone."""

    def _dispatch(self) -> None:
        idle = [
            worker
            for worker in self.workers.values()
            if worker.ready and worker.item is None and not worker.stopping
        ]
        busy = sum(1 for worker in self.workers.values() if worker.item is not None)
        if not idle or (len(self.scheduler) and not self._stopping() and self._memory_low(busy)):
            self._send_ahead()
            return
        for worker in idle:
            item = None
            if not self._stopping():
                # The databases know whether this slot's clones were emptied, whichever
                # process of the slot did it: a recycled worker keeps its predecessor's clone.
                dirty = self.databases.is_flushed(worker.slot)
                item = self.scheduler.next_item(worker.slot, dirty=dirty)
                if item is None and self.scheduler.worth_a_fresh_clone(worker.slot):
                    self._refresh(worker)
                    continue
            if item is None:
                worker.ask_to_stop()
                continue
            self._send_item(worker, item)
        self._send_ahead()

    def _send_item(self, worker: WorkerHandle, item: RunUnit, *, ahead: bool = False) -> None:
        """Send ``item`` to the worker: to run now, or ``ahead`` of the unit it runs."""
        if self.units[item.unit].flushes:
            # Marked before it runs: an interrupted flush leaves the clone no cleaner.
            self.databases.mark_flushed(worker.slot)
        if ahead:
            worker.queued = item
        else:
            worker.assign(item)
        try:
            worker.conn.send(item)
        except OSError:
            # Its pipe is closed: the worker died after its last event was read. Its exit is
            # noticed next, and what it was sent goes back to the queue then (never begun).
            logger.debug(
                "Worker %s is gone; unit %s goes back when its exit is seen",
                worker.slot,
                item.unit,
            )

    def _send_ahead(self) -> None:
        """Send each busy worker its next unit while it runs a short one (see PREFETCH_SECONDS).

        The worker starts it as soon as the current unit ends, without waiting for the parent.
        Not while workers may be recycled, which happens only between units.
        """
        limits = self.limits
        if (
            self._stopping()
            or self._gate_paused
            or limits.max_worker_memory_mb is not None
            or limits.max_units_per_worker is not None
        ):
            return
        for worker in self.workers.values():
            item = worker.item
            if item is None or worker.queued is not None or worker.stopping:
                continue
            expected = self.scheduler.expected.get(self.units[item.unit].key)
            if not len(self.scheduler) or expected is None or expected > PREFETCH_SECONDS:
                continue
            dirty = self.databases.is_flushed(worker.slot)
            ahead = self.scheduler.next_item(worker.slot, dirty=dirty)
            if ahead is not None and ahead.unit == item.unit:
                self.scheduler.requeue(ahead)  # the rest of the same unit: it waits its turn
            elif ahead is not None:
                self._send_item(worker, ahead, ahead=True)

    def _memory_low(self, busy: int) -> bool:
        """Ask the memory gate, at most every SAMPLE_SECONDS while workers are busy."""
        now = time.monotonic()
        if busy and now - self._gate_checked < SAMPLE_SECONDS:
            return self._gate_paused
        self._gate_checked = now
        self._gate_paused = self.memory_gate.should_pause(busy=busy)
        return self._gate_paused
