"""Split the class that bounds the run into pieces, when history says that pays.

A run of whole units can end no sooner than its longest unit. When history expects one
class to take longer than the whole run's share of a worker (total / N), its tests are cut
into pieces that go to different workers; each piece runs the class fixtures (setUpClass,
setUpTestData, tearDownClass) on its own worker, as pytest-xdist's load mode does. A class is
split only when the expected makespan falls by more than the class set-ups the pieces add.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import unittest
from collections.abc import Callable, Mapping, Sequence

from concurrent_test_app.execution.scheduler import expected_unit_seconds
from concurrent_test_app.history import SplitCosts
from concurrent_test_app.protocol import Piece, WorkUnitSpec
from concurrent_test_app.suite import splittable

logger = logging.getLogger(__name__)

# (unit keys, test ids) -> what history says of their set-ups and durations.
LoadCosts = Callable[[Sequence[str], Sequence[str]], SplitCosts]


@dataclasses.dataclass(frozen=True)
class Workload:
    """What the rest of the run costs besides one class: all units' seconds and the longest."""

    total: float
    workers: int
    longest_other: float

    def makespan(self, pieces: Sequence[Piece], setup: float) -> float:
        """Return the expected makespan when the class runs as ``pieces``."""
        extra = setup * (len(pieces) - 1)
        return max(
            max(piece.seconds for piece in pieces),
            (self.total + extra) / self.workers,
            self.longest_other,
        )


def split_units(
    units: Sequence[WorkUnitSpec],
    groups: Sequence[Sequence[unittest.TestCase]],
    expected: Mapping[str, float],
    workers: int,
    load_costs: LoadCosts,
) -> list[WorkUnitSpec]:
    """Return ``units`` with each class that bounds the run cut into pieces where it pays."""
    if workers < 2 or not expected:
        return list(units)
    estimates = expected_unit_seconds(units, expected)
    total = sum(estimates.values())
    candidates = [
        unit
        for unit in units
        if unit.key in expected
        and estimates[unit.key] > total / workers
        and splittable(groups[unit.index])
    ]
    if not candidates:
        return list(units)
    costs = load_costs(
        [unit.key for unit in candidates], [info.id for unit in candidates for info in unit.tests]
    )
    split = list(units)
    # The longest piece of work of each unit: the unit, or its longest piece once split.
    longest = {unit.index: estimates[unit.key] for unit in units}
    for unit in sorted(candidates, key=lambda unit: -estimates[unit.key]):
        others = [seconds for index, seconds in longest.items() if index != unit.index]
        workload = Workload(total, workers, max(others, default=0.0))
        pieces = choose_pieces(unit, estimates[unit.key], costs, workload)
        if len(pieces) > 1:
            split[unit.index] = dataclasses.replace(unit, pieces=pieces)
            longest[unit.index] = max(piece.seconds for piece in pieces)
            total += costs.setup.get(unit.key, 0.0) * (len(pieces) - 1)
            logger.info("Splitting %s into %d pieces across workers", unit.key, len(pieces))
    return split


def choose_pieces(
    unit: WorkUnitSpec, seconds: float, costs: SplitCosts, workload: Workload
) -> tuple[Piece, ...]:
    """Return the pieces that make the run shortest, or () when no split gains enough.

    The gain (makespan whole minus makespan split) must exceed the set-ups the pieces repeat.
    """
    setup = min(costs.setup.get(unit.key, 0.0), seconds)
    durations = test_durations(unit, seconds - setup, costs.tests)
    whole = workload.makespan((Piece(tuple(range(len(unit.tests))), seconds),), setup)
    best: tuple[Piece, ...] = ()
    best_makespan = whole
    for count in range(2, min(workload.workers, len(unit.tests)) + 1):
        pieces = partition(durations, count, setup)
        makespan = workload.makespan(pieces, setup)
        if whole - makespan > setup * (count - 1) and makespan < best_makespan:
            best, best_makespan = pieces, makespan
    return best


def test_durations(unit: WorkUnitSpec, seconds: float, known: Mapping[str, float]) -> list[float]:
    """Return each test's expected seconds, scaled so that they add up to ``seconds``.

    History's recent durations weigh the tests; without them for every test, they share the
    unit's time equally.
    """
    weights = [known.get(info.id) for info in unit.tests]
    if any(weight is None for weight in weights) or not sum(w or 0.0 for w in weights):
        return [seconds / len(unit.tests)] * len(unit.tests)
    scale = seconds / sum(w or 0.0 for w in weights)
    return [(weight or 0.0) * scale for weight in weights]


def partition(durations: Sequence[float], count: int, setup: float) -> tuple[Piece, ...]:
    """Return ``count`` pieces of the tests, longest first to the lightest piece (LPT).

    Each piece keeps its tests in the unit's order and costs one class set-up.
    """
    loads: list[tuple[float, int]] = [(0.0, piece) for piece in range(count)]
    members: list[list[int]] = [[] for _ in range(count)]
    for test in sorted(range(len(durations)), key=lambda test: (-durations[test], test)):
        load, piece = heapq.heappop(loads)
        members[piece].append(test)
        heapq.heappush(loads, (load + durations[test], piece))
    pieces = [
        Piece(tuple(sorted(tests)), setup + sum(durations[test] for test in tests))
        for tests in members
        if tests
    ]
    return tuple(sorted(pieces, key=lambda piece: piece.tests[0]))
