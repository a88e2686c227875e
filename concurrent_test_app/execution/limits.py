"""The limits the pool enforces: time per test, fixture, unit and run; memory; restarts.

Flags beat environment variables; a test's ``@timeout`` beats both, and adaptive limits only
ever tighten the per-test limit (see :mod:`concurrent_test_app.timeouts`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from concurrent_test_app.conf import app_settings
from concurrent_test_app.execution.plan import RunPlan
from concurrent_test_app.timeouts import class_timeout, limit_for, timeout_for

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


def resolve_timeouts(
    main: float | None, per_test: float | None, per_worker: float | None, global_: float | None
) -> tuple[float | None, float | None, float | None]:
    """Return the per-test, per-worker and global limits from the flags and the environment.

    A flag beats its environment variable; ``--timeout`` (``main``) sets the per-worker limit
    and twice it the global one, unless those have flags of their own. 0 means no limit.
    """
    main_limit = main if main is not None else app_settings.main_timeout
    return (
        _pick(per_test, app_settings.timeout_per_test),
        _pick(per_worker, app_settings.timeout_per_worker if main is None else main_limit),
        _pick(global_, app_settings.timeout_global if main is None else 2 * main_limit),
    )


def _pick(flag: float | None, default: float | None) -> float | None:
    value = default if flag is None else flag
    return None if value is None or value == 0 else value


def per_test(
    plan: RunPlan, per_test: float | None, p95: Mapping[str, float], *, adaptive: bool
) -> TestLimit:
    """Return the lookup of each test's limit: ``@timeout``, else adaptive, else ``per_test``."""
    floor = app_settings.adaptive_timeout_floor
    multiple = app_settings.adaptive_timeout_multiple

    def test_limit(unit: int, test: int) -> float | None:
        case = plan.groups[unit][test]
        if per_test is None:
            return timeout_for(case)
        return limit_for(
            case,
            default=per_test,
            p95=p95.get(plan.units[unit].tests[test].id),
            adaptive=adaptive,
            floor=floor,
            multiple=multiple,
        )

    return test_limit


def per_fixture(plan: RunPlan, per_test: float | None) -> FixtureLimit:
    """Return the lookup of a fixture's limit: its class's ``@timeout``, else ``per_test``."""

    def fixture_limit(unit: int, test: int | None) -> float | None:
        # A class or module fixture is timed as one test; a class's @timeout covers its
        # fixtures too, a method's does not.
        decorated = class_timeout(type(plan.groups[unit][test])) if test is not None else None
        return decorated if decorated is not None else per_test

    return fixture_limit


def for_run(
    plan: RunPlan,
    timeouts: tuple[float | None, float | None, float | None],
    *,
    started: float,
    workers: int,
    p95: Mapping[str, float],
    adaptive: bool,
    max_restarts: int | None,
    max_worker_memory: float | None,
    max_units_per_worker: int | None,
) -> PoolLimits:
    """Return a run's limits: ``timeouts`` (per test, per worker, and global from the
    ``started`` moment), the flags given, and the settings' defaults for the rest."""
    test_seconds, worker_seconds, run_seconds = timeouts
    return PoolLimits(
        timeout_per_test=test_seconds,
        timeout_per_worker=worker_seconds,
        global_deadline=None if run_seconds is None else started + run_seconds,
        max_restarts=app_settings.restart_cap(workers) if max_restarts is None else max_restarts,
        max_worker_memory_mb=max_worker_memory or app_settings.worker_max_memory_mb,
        max_units_per_worker=max_units_per_worker,
        test_limit=per_test(plan, test_seconds, p95, adaptive=adaptive),
        fixture_limit=per_fixture(plan, test_seconds),
    )
