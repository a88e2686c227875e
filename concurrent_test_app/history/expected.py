"""What history expects of this run: each unit's duration, the workers' memory, each test's p95.

The runner asks before the test databases exist (on the real database). The scheduler hands
out the longest units first, scaling sizes the pool by memory, and adaptive timeouts start from
each test's recent durations. No history gives empty answers, never an error.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Model, QuerySet

from concurrent_test_app.history.averages import moving_average, percentile
from concurrent_test_app.history.store import K, chunks, history_alias, newest_rows, read_history
from concurrent_test_app.history.timings import read_timings_file
from concurrent_test_app.models import Case, CaseResult, Run, UnitTiming, WorkerStat, case_digest

logger = logging.getLogger(__name__)

# How many of a unit's (or test's) most recent runs the averages and percentiles look at.
HISTORY_WINDOW = 10
# How many recent runs the worker-memory percentile looks at.
MEMORY_WINDOW = 20

# Durations of tests that were skipped, never ran or errored (a timeout is an error) say
# nothing about how long the test normally takes.
_TIMED_OUTCOMES = frozenset({"passed", "failed", "expected_failure", "unexpected_success"})


def load_expected(
    unit_keys: Sequence[str],
    *,
    using: str | None = None,
    timings_file: Path | None = None,
    from_database: bool = True,
) -> dict[str, float]:
    """Return the expected seconds (tests and set-up) of every unit that has a history.

    The database's history wins (not under --no-history, ``from_database`` False); the
    timings file fills in units the database has never seen (all of them on a fresh CI
    machine). Units known to neither are left out: the scheduler gives them the median of
    the known ones.
    """
    keys = list(dict.fromkeys(unit_keys))
    expected: dict[str, float] = {}
    if keys and from_database:
        alias = history_alias(using)
        expected = read_history(
            alias, "timing history", lambda alias: _expected_from_database(keys, alias), {}
        )
    missing = [key for key in keys if key not in expected]
    if missing and timings_file is not None:
        expected.update(expected_from_timings_file(missing, timings_file))
    logger.debug("Expected durations known for %d of %d units", len(expected), len(keys))
    return expected


def _expected_from_database(keys: Sequence[str], alias: str) -> dict[str, float]:
    return _unit_averages(keys, alias, "seconds")


def _unit_averages(keys: Sequence[str], alias: str, column: str) -> dict[str, float]:
    """Return the moving average of a UnitTiming ``column`` over each unit's recent runs."""

    def timings(chunk: Sequence[str]) -> QuerySet[UnitTiming]:
        return UnitTiming.objects.using(alias).filter(key__in=chunk)

    recent = _newest_first(alias, timings, keys, "key", column)
    return {key: moving_average(values) for key, values in recent.items()}


def _newest_first(
    alias: str,
    rows_of: Callable[[Sequence[K]], QuerySet[Model]],
    keys: Sequence[K],
    key: str,
    column: str,
) -> dict[K, list[float]]:
    """Return each key's ``column`` in its HISTORY_WINDOW newest rows, newest first."""
    recent: dict[K, list[tuple[int, float]]] = defaultdict(list)
    for found, recency, value in newest_rows(
        alias, rows_of, keys, key, HISTORY_WINDOW, "recency", column
    ):
        recent[found].append((recency, value))
    return {found: [value for _, value in sorted(values)] for found, values in recent.items()}


def expected_from_timings_file(unit_keys: Sequence[str], path: Path) -> dict[str, float]:
    """Return the expected seconds the timings file gives for ``unit_keys`` (no database)."""
    units = read_timings_file(path)["units"]
    return {key: units[key]["seconds"] for key in unit_keys if key in units}


@dataclass
class SplitCosts:
    """What history says of the classes a run may split: set-up seconds and test durations."""

    setup: dict[str, float] = field(default_factory=dict)  # unit key -> one class set-up
    tests: dict[str, float] = field(default_factory=dict)  # test id -> recent average


def load_split_costs(
    unit_keys: Sequence[str],
    test_ids: Sequence[str],
    *,
    using: str | None = None,
    timings_file: Path | None = None,
    from_database: bool = True,
) -> SplitCosts:
    """Return the class set-up seconds of ``unit_keys`` and the durations of ``test_ids``.

    As :func:`load_expected`: the database first (not under --no-history, ``from_database``
    False), then the timings file, which has no test durations, for units it has not seen.
    """
    costs = SplitCosts()
    if from_database:
        keys, ids = list(dict.fromkeys(unit_keys)), list(dict.fromkeys(test_ids))
        costs = _split_costs_from_database(keys, ids, history_alias(using))
    missing = [key for key in unit_keys if key not in costs.setup]
    if missing and timings_file is not None:
        costs.setup.update(setup_from_timings_file(missing, timings_file))
    return costs


def _split_costs_from_database(keys: list[str], ids: list[str], alias: str) -> SplitCosts:
    costs = SplitCosts()
    if keys:
        costs.setup = read_history(
            alias, "set-up history", lambda alias: _setup_from_database(keys, alias), {}
        )
    if ids:
        durations: dict[str, list[float]] = read_history(
            alias, "test durations", lambda alias: _recent_durations(ids, alias), {}
        )
        costs.tests = {test_id: moving_average(values) for test_id, values in durations.items()}
    return costs


def _setup_from_database(keys: Sequence[str], alias: str) -> dict[str, float]:
    return _unit_averages(keys, alias, "setup_seconds")


def setup_from_timings_file(unit_keys: Sequence[str], path: Path) -> dict[str, float]:
    """Return the class set-up seconds the timings file gives for ``unit_keys``."""
    units = read_timings_file(path)["units"]
    return {key: units[key]["setup_seconds"] for key in unit_keys if key in units}


def worker_memory_p90(using: str | None = None) -> float | None:
    """Return the 90th percentile of the workers' peak memory (MB) in recent runs, or None."""
    peaks: list[float] = read_history(
        history_alias(using), "worker memory history", _recent_peaks, []
    )
    return percentile(peaks, 0.9) if peaks else None


def _recent_peaks(alias: str) -> list[float]:
    # Two queries: MariaDB refuses LIMIT inside an IN subquery.
    runs = list(
        Run.objects.using(alias)
        .order_by("-started_at", "-id")
        .values_list("pk", flat=True)[:MEMORY_WINDOW]
    )
    return list(
        WorkerStat.objects.using(alias)
        .filter(run_id__in=runs, memory_peak_mb__gt=0)
        .values_list("memory_peak_mb", flat=True)
    )


def test_duration_p95(test_ids: Sequence[str], using: str | None = None) -> dict[str, float]:
    """Return the 95th percentile of each test's recent durations, for tests with a history."""
    alias = history_alias(using)
    ids = list(dict.fromkeys(test_ids))
    if not ids:
        return {}
    durations: dict[str, list[float]] = read_history(
        alias, "test durations", lambda alias: _recent_durations(ids, alias), {}
    )
    return {test_id: percentile(values, 0.95) for test_id, values in durations.items()}


# Not a test, whatever its name says.
test_duration_p95.__test__ = False  # type: ignore[attr-defined]


def _recent_durations(ids: Sequence[str], alias: str) -> dict[str, list[float]]:
    """Return each test's durations in its recent timed runs, newest first."""
    # By the cases' keys, not by a join on their test ids: the database then reads each
    # test's newest results from the (case, run) index instead of scanning all results.
    digests = {case_digest(test_id): test_id for test_id in ids}
    test_ids: dict[int, str] = {}
    for chunk in chunks(list(digests)):
        cases = Case.objects.using(alias).filter(digest__in=chunk)
        test_ids.update((pk, digests[digest]) for pk, digest in cases.values_list("pk", "digest"))

    def results(chunk: Sequence[int]) -> QuerySet[CaseResult]:
        return CaseResult.objects.using(alias).filter(
            case_id__in=chunk, outcome__in=_TIMED_OUTCOMES
        )

    durations = _newest_first(alias, results, list(test_ids), "case_id", "duration")
    return {test_ids[pk]: values for pk, values in durations.items()}
