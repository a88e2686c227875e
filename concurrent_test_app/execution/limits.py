"""The limits the pool enforces: time per test, fixture, unit and run; memory; restarts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# (unit, test) -> seconds, or None for no limit
TestLimit = Callable[[int, int], float | None]
# (unit, a test of the class, or None for a module fixture) -> seconds, or None for no limit
FixtureLimit = Callable[[int, int | None], float | None]


@dataclass
class PoolLimits:
    """The limits the pool enforces (seconds, MB and counts; None means no limit)."""

    timeout_per_test: float | None = None
    timeout_per_worker: float | None = None
    global_deadline: float | None = None  # a time.monotonic() value
    max_restarts: int = 8
    max_worker_memory_mb: float | None = None
    max_units_per_worker: int | None = None
    test_limit: TestLimit | None = None
    fixture_limit: FixtureLimit | None = None

    def for_test(self, unit: int, test: int) -> float | None:
        """Return the limit of test ``test`` of ``unit``."""
        if self.test_limit is not None:
            return self.test_limit(unit, test)
        return self.timeout_per_test

    def for_fixture(self, unit: int, test: int | None) -> float | None:
        """Return the limit of a fixture of ``unit``: of ``test``'s class, or of its module."""
        if self.fixture_limit is not None:
            return self.fixture_limit(unit, test)
        return self.timeout_per_test
