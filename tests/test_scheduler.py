"""Schedulers driven by fake workers: which unit goes next, and what that does to the makespan."""

from __future__ import annotations

import heapq

import pytest

from concurrent_test_app.execution.scheduler import (
    DEFAULT_SCHEDULER,
    SCHEDULERS,
    DiscoveryScheduler,
    LongestFirstScheduler,
    Scheduler,
    expected_unit_seconds,
)
from concurrent_test_app.protocol import CaseInfo, RunUnit, WorkUnitSpec


def make_units(*keys_and_tests: tuple[str, int]) -> list[WorkUnitSpec]:
    return [
        WorkUnitSpec(index, key, tuple(CaseInfo(f"{key}.test_{i}", f"test_{i}") for i in range(n)))
        for index, (key, n) in enumerate(keys_and_tests)
    ]


def handed_out(scheduler: Scheduler) -> list[int]:
    order = []
    while (item := scheduler.next_item(0)) is not None:
        order.append(item.unit)
    return order


def simulate(scheduler: Scheduler, seconds: dict[int, float], workers: int) -> float:
    """Return the makespan when ``workers`` fake workers take units as they become free."""
    free_at = [(0.0, slot) for slot in range(workers)]
    end = 0.0
    while True:
        now, slot = heapq.heappop(free_at)
        item = scheduler.next_item(slot)
        if item is None:
            return end
        done = now + seconds[item.unit]
        end = max(end, done)
        heapq.heappush(free_at, (done, slot))


def test_schedulers_are_registered_by_name() -> None:
    assert SCHEDULERS["discovery"] is DiscoveryScheduler
    assert SCHEDULERS["longest"] is LongestFirstScheduler
    assert DEFAULT_SCHEDULER == "longest"


def test_discovery_scheduler_keeps_discovery_order() -> None:
    units = make_units(("a.A", 1), ("b.B", 2), ("c.C", 3))
    scheduler = DiscoveryScheduler(units, {"c.C": 9.0})
    assert len(scheduler) == 3
    assert handed_out(scheduler) == [0, 1, 2]
    assert len(scheduler) == 0


def test_longest_first_orders_by_expected_seconds() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1), ("d.D", 1))
    expected = {"a.A": 1.0, "b.B": 5.0, "c.C": 3.0, "d.D": 0.5}
    assert handed_out(LongestFirstScheduler(units, expected)) == [1, 2, 0, 3]


def test_unknown_unit_gets_the_median_of_known_ones() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1), ("new.New", 1))
    expected = {"a.A": 1.0, "b.B": 4.0, "c.C": 10.0}
    assert expected_unit_seconds(units, expected)["new.New"] == 4.0
    # Median 4.0 ties with b.B: the stable sort keeps discovery order between them.
    assert handed_out(LongestFirstScheduler(units, expected)) == [2, 1, 3, 0]


def test_without_history_every_unit_is_equal_and_discovery_order_stays() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1))
    assert expected_unit_seconds(units, {}) == {"a.A": 0.0, "b.B": 0.0, "c.C": 0.0}
    assert handed_out(LongestFirstScheduler(units, {})) == [0, 1, 2]


def test_requeued_work_goes_first_and_drain_empties() -> None:
    units = make_units(("a.A", 3), ("b.B", 1), ("c.C", 1))
    scheduler = LongestFirstScheduler(units, {"a.A": 3.0, "b.B": 2.0, "c.C": 1.0})
    first = scheduler.next_item(0)
    assert first == RunUnit(0, (0, 1, 2))
    scheduler.requeue(RunUnit(0, (1, 2)))
    scheduler.requeue(RunUnit(1, ()))  # nothing left of it: not queued
    assert scheduler.next_item(1) == RunUnit(0, (1, 2))
    assert scheduler.drain() == [RunUnit(1, (0,)), RunUnit(2, (0,))]
    assert len(scheduler) == 0
    assert scheduler.next_item(0) is None


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_longest_first_beats_discovery_order_on_a_skewed_suite(workers: int) -> None:
    # Many short classes discovered first, the long ones last: discovery order leaves the
    # other workers idle while one works through a long class at the end.
    keys = [(f"short.S{i:02d}", 1) for i in range(12)] + [("long.L1", 1)]
    units = make_units(*keys)
    seconds = {unit.index: (0.5 if unit.key.startswith("short") else 6.0) for unit in units}
    expected = {unit.key: seconds[unit.index] for unit in units}
    discovery = simulate(DiscoveryScheduler(units, expected), seconds, workers)
    longest = simulate(LongestFirstScheduler(units, expected), seconds, workers)
    ideal = max(sum(seconds.values()) / workers, max(seconds.values()))
    assert longest < discovery
    assert longest <= ideal * 1.1
