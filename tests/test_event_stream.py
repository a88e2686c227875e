"""How a worker streams its events, and which worker gets a unit ahead: no processes, no timing.

A worker writes a test's result calls together with the mark that the next test is in flight,
before that next test's code runs. So the parent knows what is in flight, and a worker that
dies loses no finished result. The events pipe wakes nobody: a worker rings the parent at the
end of a unit, before its last test, and after every RING_BYTES.
"""

from __future__ import annotations

import multiprocessing
import unittest
from multiprocessing.connection import Connection
from types import SimpleNamespace
from typing import Any

import pytest

from concurrent_test_app.execution.dispatch import PREFETCH_SECONDS, Dispatch
from concurrent_test_app.execution.limits import PoolLimits
from concurrent_test_app.execution.scheduler import Scheduler
from concurrent_test_app.execution.workers import WorkerHandle
from concurrent_test_app.protocol import (
    Batch,
    CaseCalls,
    CaseInfo,
    CaseStarted,
    EventsWritten,
    RunUnit,
    WorkUnitSpec,
)
from concurrent_test_app.worker.events import RING_BYTES, EventResult, Outbox
from concurrent_test_app.worker.main import MarkingSuite


def pipes() -> tuple[Outbox, Connection, Connection]:
    events_reader, events_writer = multiprocessing.Pipe(duplex=False)
    control, control_worker_end = multiprocessing.Pipe(duplex=True)
    return Outbox(events_writer, control_worker_end), events_reader, control


def read_all(conn: Connection) -> list[object]:
    messages = []
    while conn.poll():
        messages.append(conn.recv())
    return messages


def flat(messages: list[object]) -> list[object]:
    out: list[object] = []
    for message in messages:
        out.extend(message.messages if isinstance(message, Batch) else (message,))
    return out


def test_outbox_holds_until_a_flush_and_sends_one_message_in_order() -> None:
    outbox, events, control = pipes()
    outbox.put("a")
    outbox.put("b")
    assert not events.poll()
    outbox.send("c")
    assert read_all(events) == [Batch(("a", "b", "c"))]
    outbox.send("d")
    assert read_all(events) == ["d"]
    assert not control.poll()


def test_outbox_rings_at_the_end_and_every_ring_bytes() -> None:
    outbox, events, control = pipes()
    outbox.ring("done")
    assert read_all(events) == ["done"]
    assert read_all(control) == [EventsWritten()]
    big = "x" * 1024
    for _ in range(RING_BYTES // 1024 + 1):
        outbox.send(big)
        read_all(events)
    assert read_all(control) == [EventsWritten()]


class Observed(unittest.TestCase):
    """Each test looks at what its worker had written when its own code began."""

    __test__ = False  # run by run_observed() below, not collected by pytest
    seen: dict[str, list[object]] = {}
    events: Connection | None = None

    def _look(self, name: str) -> None:
        assert self.events is not None
        Observed.seen[name] = flat(read_all(self.events))

    def test_a(self) -> None:
        self._look("a")

    def test_b(self) -> None:
        self._look("b")

    def test_c(self) -> None:
        self._look("c")


def run_observed() -> tuple[EventResult, Connection, Connection]:
    outbox, events, control = pipes()
    tests = [Observed("test_a"), Observed("test_b"), Observed("test_c")]
    index = {id(test): position for position, test in enumerate(tests)}
    Observed.seen = {}
    Observed.events = events
    result = EventResult(outbox, 1, 0, index, failfast=False, buffer=False, debug_sql=False)
    MarkingSuite(tests, positions=index, announce=lambda *args: None).run(result)
    return result, events, control


def test_a_test_begins_only_after_the_previous_result_and_its_own_mark_are_written() -> None:
    run_observed()
    first = Observed.seen["a"]
    assert [type(m) for m in first] == [CaseStarted] and first[0].test == 0  # type: ignore[attr-defined]
    for name, previous, current in (("b", 0, 1), ("c", 1, 2)):
        seen = Observed.seen[name]
        calls, started = seen
        assert isinstance(calls, CaseCalls) and isinstance(started, CaseStarted)
        methods = [call.method for call in calls.calls]
        assert methods[0] == "startTest" and methods[-1] == "stopTest"
        assert "addSuccess" in methods
        assert {call.test for call in calls.calls} == {previous}
        assert started.test == current


def test_the_parent_is_woken_before_the_last_test_only() -> None:
    _, events, control = run_observed()
    assert read_all(control) == [EventsWritten()]
    # The last test's calls are held until the unit ends (the worker writes them with UnitDone).
    assert read_all(events) == []


# -- sending the next unit ahead (fake workers, as test_scheduler does) ---------------------


class FakeConn:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, message: object) -> None:
        self.sent.append(message)


class FakeDatabases:
    def is_flushed(self, slot: int) -> bool:
        return False

    def mark_flushed(self, slot: int) -> None:
        raise AssertionError("no unit here flushes")


class FakePool(Dispatch):
    def __init__(self, expected: dict[str, float], limits: PoolLimits) -> None:
        self.units = [WorkUnitSpec(i, f"unit{i}", (CaseInfo(f"unit{i}.t", "t"),)) for i in range(4)]
        self.scheduler = Scheduler(self.units, expected)
        self.databases: Any = FakeDatabases()  # Any: a stand-in for WorkerDatabases
        self.limits = limits
        self.workers = {}
        self.memory_gate: Any = SimpleNamespace(should_pause=lambda busy: False)
        self._gate_checked = float("-inf")
        self._gate_paused = False

    def _stopping(self) -> bool:
        return False

    def _refresh(self, worker: WorkerHandle) -> None:
        raise AssertionError("no worker here is dirty")

    def add_worker(self, slot: int) -> WorkerHandle:
        worker = WorkerHandle(slot, None, 0, FakeConn(), "")  # type: ignore[arg-type]
        worker.ready = True
        self.workers[slot] = worker
        return worker


@pytest.mark.parametrize(
    ("expected", "limits", "ahead"),
    [
        ({"unit0": PREFETCH_SECONDS / 2}, PoolLimits(), True),
        ({"unit0": PREFETCH_SECONDS * 10}, PoolLimits(), False),
        ({}, PoolLimits(), False),  # never seen: it may be long
        ({"unit0": PREFETCH_SECONDS / 2}, PoolLimits(max_units_per_worker=5), False),
        ({"unit0": PREFETCH_SECONDS / 2}, PoolLimits(max_worker_memory_mb=500.0), False),
    ],
)
def test_a_busy_worker_gets_its_next_unit_ahead_only_while_its_unit_is_short(
    expected: dict[str, float], limits: PoolLimits, ahead: bool
) -> None:
    pool = FakePool(expected, limits)
    worker = pool.add_worker(1)
    pool._dispatch()
    assert worker.item == RunUnit(0, (0,))
    sent: list[object] = worker.conn.sent  # type: ignore[attr-defined]
    if ahead:
        assert worker.queued == RunUnit(1, (0,))
        assert sent == [RunUnit(0, (0,)), RunUnit(1, (0,))]
        assert len(pool.scheduler) == 2
    else:
        assert worker.queued is None
        assert sent == [RunUnit(0, (0,))]
        assert len(pool.scheduler) == 3


class ClosedConn:
    def send(self, message: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_unit_sent_to_a_worker_that_just_died_waits_for_its_exit_to_be_seen() -> None:
    """The send fails quietly; the unit stays the worker's until its death puts it back."""
    pool = FakePool({}, PoolLimits())
    worker = pool.add_worker(1)
    worker.conn = ClosedConn()  # type: ignore[assignment]
    pool._dispatch()
    assert worker.item == RunUnit(0, (0,)) and not worker.taken
