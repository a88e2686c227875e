"""The parent's handle on one worker process: what it is doing, asking it to stop, its exit.

The pool and its supervision share these handles. A handle also reads its worker's stacks
(for a timeout) and words what the worker was doing when it was lost, for the error that
names the cause.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from concurrent_test_app import processes
from concurrent_test_app.protocol import RunUnit, StopWorker

logger = logging.getLogger(__name__)

# How long a worker may take to exit after it was asked to stop, before it is killed.
STOP_GRACE_SECONDS = 10.0
# How often a wait for workers to exit looks again: a sentinel stays open while a process the
# worker started holds it, so the wait cannot rely on the sentinel alone.
EXIT_POLL_SECONDS = 0.05
# How long the parent waits for faulthandler to write a timed-out worker's stacks.
DUMP_WAIT_SECONDS = 2.0
# How often the parent looks whether faulthandler is still writing; three looks in a row
# without growth mean the dump is complete.
DUMP_POLL_SECONDS = 0.05


@dataclass
class Fixture:
    """A class or module fixture a worker is in (see worker.fixtures.FixtureSuite)."""

    name: str  # unittest's pseudo-id: "setUpClass (module.Class)"
    tests: tuple[int, ...]  # the unit's tests it belongs to
    sets_up: bool
    started: float

    @property
    def of_class(self) -> bool:
        """Return whether this is a class fixture (else a module fixture)."""
        return self.name.startswith(("setUpClass ", "tearDownClass "))


@dataclass
class WorkerHandle:
    """One worker process as the parent sees it: its pipe and what it is doing."""

    slot: int
    process: BaseProcess
    pid: int
    conn: Connection
    dump_path: str
    ready: bool = False
    stopping: bool = False
    stop_sent: float = 0.0
    item: RunUnit | None = None
    queued: RunUnit | None = None  # sent ahead: the worker starts it when ``item`` ends
    taken: bool = False  # the worker said it took ``item`` (UnitStarted)
    finished: set[int] = field(default_factory=set)
    current_test: int | None = None
    test_started: float = 0.0
    fixture: Fixture | None = None
    unit_started: float = 0.0
    units_run: int = 0
    last_unit: str = ""
    eof: bool = False
    ended: bool = False  # killed (if need be), reaped and forgotten
    peak_rss_mb: float = 0.0
    fixture_problem: str | None = None
    events: Connection | None = None  # the test events, read on the parent's own time

    def assign(self, item: RunUnit) -> None:
        """Make ``item`` the unit this worker runs from now (it was sent, perhaps ahead)."""
        self.item = item
        self.taken = False
        self.finished = set()
        self.current_test = None
        self.fixture = None
        self.fixture_problem = None
        self.unit_started = time.monotonic()

    def has_exited(self) -> bool:
        """Return whether the process has ended (it may not be reaped yet)."""
        return processes.has_exited(self.pid)

    def ask_to_stop(self) -> None:
        """Tell the worker to exit once it is idle; it has STOP_GRACE_SECONDS to do so."""
        self.stopping = True
        self.stop_sent = time.monotonic()
        try:
            self.conn.send(StopWorker())
        except OSError:
            # Its pipe is closed: the worker is gone or going, and its exit is noticed anyway.
            pass

    def stacks(self) -> str:
        """Return the stack of every thread, which the worker's faulthandler writes on SIGUSR1."""
        try:
            before = os.path.getsize(self.dump_path)
        except OSError:
            before = 0
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except OSError:
            return ""
        # faulthandler writes from a signal handler; wait until the dump stops growing.
        deadline = time.monotonic() + DUMP_WAIT_SECONDS
        size, steady = before, 0
        while time.monotonic() < deadline and steady < 3:
            time.sleep(DUMP_POLL_SECONDS)
            try:
                current = os.path.getsize(self.dump_path)
            except OSError:
                break
            steady = steady + 1 if current == size and current > before else 0
            size = current
        try:
            with open(self.dump_path) as handle:
                handle.seek(before)
                return handle.read().strip()
        except OSError:
            return ""

    def doing(self) -> str:
        """Return what the worker was doing, for its error message."""
        if not self.ready:
            return "while starting, before it was ready for work"
        if self.item is None or not self.taken:
            after = f" (after {self.last_unit})" if self.last_unit else ""
            return f"between units{after}"
        if self.fixture is not None:
            return f"while running {self.fixture.name}"
        if self.current_test is not None or set(self.item.tests) - self.finished:
            return "while running this test"
        return f"between units (after the last test of {self.last_unit})"

    def death(self) -> str:
        """Return the error message of a worker that died by itself, naming the cause."""
        memory = f" (peak memory {self.peak_rss_mb:.0f} MB)" if self.peak_rss_mb else ""
        return (
            f"Worker {self.slot} (pid {self.pid}) died with "
            f"{describe_exit(self.process.exitcode)}{memory} {self.doing()}."
        )

    def stop_overdue(self) -> str:
        """Return the error message of a worker that did not exit when asked to stop."""
        return (
            f"Worker {self.slot} (pid {self.pid}) did not exit within "
            f"{STOP_GRACE_SECONDS:g} s of being asked to stop {self.doing()}, and was "
            "killed (does a test leave a thread running that is not a daemon?)."
        )


def wait_for_exit(workers: Iterable[WorkerHandle], deadline: float) -> list[WorkerHandle]:
    """Wait until every worker has exited or ``deadline`` passed; return those still alive."""
    alive = [w for w in workers if not w.has_exited()]
    while alive and time.monotonic() < deadline:
        wait([w.process.sentinel for w in alive], timeout=EXIT_POLL_SECONDS)
        alive = [w for w in alive if not w.has_exited()]
    return alive


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
