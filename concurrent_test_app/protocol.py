"""The plain messages that cross the pipe between the parent and a worker.

A worker never sends a TestCase, a live exception or a connection: it sends the calls it
saw on its own unittest result, with tracebacks already formatted, and the parent replays
them (:mod:`concurrent_test_app.execution.replay`). Everything here pickles, so it also
crosses to a spawned worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# The plain settings a worker connects with, per alias (see databases.attach). Any: a
# DATABASES entry mixes names, numbers and the driver's own OPTIONS.
WorkerSettings = dict[str, dict[str, Any]]
# What a runner option may be to cross to a spawned worker: streams and loggers do not pickle.
PLAIN_TYPES = (str, int, float, bool, type(None), list, tuple, set, frozenset)

# What a spawned worker calls with WorkerSpec.runner_path to rebuild the parent's runner class.
RUNNER_FACTORY = "concurrent_test_app.runner.concurrent_runner_class"


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
class Piece:
    """A share of a split class's tests (indexes in its unit), with its expected seconds."""

    tests: tuple[int, ...]
    seconds: float = 0.0


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
    # A class split across workers: each piece runs the class fixtures on its own worker.
    pieces: tuple[Piece, ...] = ()


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
    at: float = 0.0  # time.time() in the worker as it entered the fixture


@dataclass(frozen=True)
class FixtureDone:
    """The worker left the fixture it last entered."""

    slot: int
    unit: int


@dataclass(frozen=True)
class CaseStarted:
    """A test is about to begin (its per-test set-up first); the parent times it from ``at``."""

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
class Batch:
    """Messages a worker held back, in the order it made them (see worker.events.Outbox).

    A worker writes what it holds to its events pipe before anything that could lose it:
    before each test and each class or module fixture begins, and when a unit ends. So the
    last message of a batch says what the worker is doing from then on, and no finished result
    waits in a dead worker.
    """

    messages: tuple[object, ...]


@dataclass(frozen=True)
class EventsWritten:
    """A token on the control pipe: the worker wrote events the parent should read now."""


@dataclass(frozen=True)
class UnitDone:
    slot: int
    unit: int
    seconds: float
    setup_seconds: float
    queries: int
    memory_peak_mb: float
    rss_mb: float


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
    # Any: the keyword options of the project's runner class, whatever it takes (plain ones).
    runner_kwargs: dict[str, Any] = field(default_factory=dict)
    test_labels: tuple[str, ...] = ()
    units_digest: str = ""
    dump_path: str = ""
    selection: tuple[int, ...] | None = None  # a shard's units, by index in the whole suite
    parent_pid: int = 0  # the parent that started this worker, when it is its direct child


def plain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the options that can cross to a spawned worker (no streams, no loggers)."""
    # Any: a runner's keyword options, of whatever types its __init__ takes.
    return {key: value for key, value in options.items() if isinstance(value, PLAIN_TYPES)}
