"""Which work unit goes next.

Schedulers are small classes behind one protocol, chosen by name with ``--scheduler``:
the pool asks :meth:`Scheduler.next_item` whenever a worker is free, gives back the rest of a
unit with :meth:`Scheduler.requeue` when a worker died under it, and never looks inside.
"""

from __future__ import annotations

import heapq
import logging
import statistics
from collections import deque
from collections.abc import Mapping, Sequence

from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.protocol import RunUnit, WorkUnitSpec

logger = logging.getLogger(__name__)


class Scheduler:
    """Hand out units in the order :meth:`order` gives; re-queued work goes first."""

    name = "base"

    def __init__(self, units: Sequence[WorkUnitSpec], expected: Mapping[str, float]) -> None:
        self.units = list(units)
        self.units_by_index = {unit.index: unit for unit in self.units}
        self.expected = dict(expected)
        self._queue: deque[RunUnit] = deque(self.items())

    def order(self) -> list[WorkUnitSpec]:
        return self.units

    def items(self) -> list[RunUnit]:
        """Return the work in the order it is handed out: each unit, or its pieces."""
        return [item for unit in self.order() for item, _ in unit_items(unit, 0.0)]

    def next_item(self, slot: int, dirty: bool = False) -> RunUnit | None:
        """Return the next piece of work for the worker in ``slot``, or None.

        A ``dirty`` worker ran a TransactionTestCase, which leaves its database emptied; it
        is never given a unit with a TestCase, which (as in serial, where TestCases run
        first) may rely on the rows data migrations made. None while work remains tells the
        pool to give that worker a fresh clone.
        """
        for position, item in enumerate(self._queue):
            if not (dirty and self.units_by_index[item.unit].needs_clean):
                del self._queue[position]
                return item
        return None

    def requeue(self, item: RunUnit) -> None:
        """Put the unfinished rest of a unit back, ahead of everything else."""
        if item.tests:
            self._queue.appendleft(item)

    def drain(self) -> list[RunUnit]:
        """Remove and return everything not handed out yet."""
        items = list(self._queue)
        self._queue.clear()
        return items

    def __len__(self) -> int:
        return len(self._queue)


class DiscoveryScheduler(Scheduler):
    """Discovery order (Django's test type order first), as Django's --parallel hands out units."""

    name = "discovery"

    def order(self) -> list[WorkUnitSpec]:
        # sorted() is stable: inside a phase the units keep discovery order.
        return sorted(self.units, key=lambda unit: unit.phase)


class LongestFirstScheduler(Scheduler):
    """Longest expected unit first; a unit never seen gets the median of known ones."""

    name = "longest"

    def order(self) -> list[WorkUnitSpec]:
        estimates = expected_unit_seconds(self.units, self.expected)
        # sorted() is stable: units with equal estimates keep discovery order.
        return sorted(self.units, key=lambda unit: -estimates[unit.key])

    def items(self) -> list[RunUnit]:
        # A split class's pieces take their place among the units by their own estimates.
        estimates = expected_unit_seconds(self.units, self.expected)
        timed = [pair for unit in self.units for pair in unit_items(unit, estimates[unit.key])]
        return [item for item, _ in sorted(timed, key=lambda pair: -pair[1])]


def unit_items(unit: WorkUnitSpec, seconds: float) -> list[tuple[RunUnit, float]]:
    """Return the unit's work as (item, expected seconds): each piece, or the whole unit."""
    if unit.pieces:
        return [(RunUnit(unit.index, piece.tests), piece.seconds) for piece in unit.pieces]
    return [(RunUnit(unit.index, tuple(range(len(unit.tests)))), seconds)]


def expected_unit_seconds(
    units: Sequence[WorkUnitSpec], expected: Mapping[str, float]
) -> dict[str, float]:
    """Return the expected seconds of every unit, filling unknown ones with the known median."""
    known = [expected[unit.key] for unit in units if unit.key in expected]
    fallback = statistics.median(known) if known else 0.0
    return {unit.key: expected.get(unit.key, fallback) for unit in units}


def shard_units(
    units: Sequence[WorkUnitSpec], expected: Mapping[str, float], k: int, n: int
) -> list[WorkUnitSpec]:
    """Return the units of shard ``k`` of ``n`` (k counted from 1), in discovery order.

    Longest-processing-time-first: units, longest expected first (ties broken by key), each
    go to the shard with the least expected time so far (ties: fewer units, then the lower
    shard). Only the units and their expected durations decide, never the machine, so every
    CI job computes the same split and each unit lands in exactly one shard.
    """
    if n < 1 or not 1 <= k <= n:
        raise ConfigurationError(
            f"--shard {k}/{n} is out of range; "
            f"pass K/N with 1 <= K <= N, such as --shard 1/{max(n, 2)}."
        )
    estimates = expected_unit_seconds(units, expected)
    if not any(estimates.values()):
        # No history at all: balance by number of tests, the best guess there is.
        estimates = {unit.key: float(len(unit.tests)) for unit in units}
    ranked = sorted(units, key=lambda unit: (-estimates[unit.key], unit.key, unit.index))
    shards: list[tuple[float, int, int]] = [(0.0, 0, shard) for shard in range(n)]
    chosen: set[int] = set()
    for unit in ranked:
        load, count, shard = heapq.heappop(shards)
        if shard == k - 1:
            chosen.add(unit.index)
        heapq.heappush(shards, (load + estimates[unit.key], count + 1, shard))
    picked = [unit for unit in units if unit.index in chosen]
    logger.debug("Shard %d/%d holds %d of %d units", k, n, len(picked), len(units))
    return picked


SCHEDULERS: dict[str, type[Scheduler]] = {
    DiscoveryScheduler.name: DiscoveryScheduler,
    LongestFirstScheduler.name: LongestFirstScheduler,
}
DEFAULT_SCHEDULER = LongestFirstScheduler.name
