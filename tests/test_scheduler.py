"""Schedulers driven by fake workers: which unit goes next, and what that does to the makespan."""

from __future__ import annotations

import heapq
import random

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


def handed_out(scheduler: Scheduler, slot: int = 0) -> list[int]:
    order = []
    while (item := scheduler.next_item(slot)) is not None:
        order.append(item.unit)
    return order


def simulate(
    scheduler: Scheduler,
    seconds: dict[int, float],
    workers: int,
    *,
    runs: dict[int, list[list[RunUnit]]] | None = None,
) -> float:
    """Return the makespan when ``workers`` fake workers take units as they become free.

    A worker the scheduler gives nothing starts again on a fresh clone when the scheduler
    says that is worth it, as the pool does; ``runs`` collects what each clone ran, in order.
    """
    free_at = [(0.0, slot) for slot in range(workers)]
    clones = {slot: [[]] for slot in range(workers)} if runs is None else runs
    clones.update({slot: [[]] for slot in range(workers)})
    end = 0.0
    while free_at:
        now, slot = heapq.heappop(free_at)
        item = scheduler.next_item(slot)
        if item is None and scheduler.worth_a_fresh_clone(slot):
            scheduler.clone_replaced(slot)
            clones[slot].append([])
            item = scheduler.next_item(slot)
        if item is None:
            continue
        clones[slot][-1].append(item)
        done = now + seconds[item.unit]
        end = max(end, done)
        heapq.heappush(free_at, (done, slot))
    assert len(scheduler) == 0
    return end


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


def test_longest_first_deals_longest_first_and_each_list_runs_in_serial_order() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1), ("d.D", 1))
    expected = {"a.A": 1.0, "b.B": 5.0, "c.C": 3.0, "d.D": 0.5}
    scheduler = LongestFirstScheduler(units, expected, workers=2)
    # b (5 s) to one list; c, a and d (3 + 1 + 0.5 s) to the other, run in serial order.
    assert scheduler.next_item(1) == RunUnit(1, (0,))
    assert handed_out(scheduler, slot=2) == [0, 2, 3]
    assert scheduler.next_item(1) is None


def test_one_worker_runs_serial_order_whatever_history_says() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1), ("d.D", 1))
    expected = {"a.A": 1.0, "b.B": 5.0, "c.C": 3.0, "d.D": 0.5}
    assert handed_out(LongestFirstScheduler(units, expected)) == [0, 1, 2, 3]


def test_unknown_unit_gets_the_median_of_known_ones() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1), ("new.New", 1))
    expected = {"a.A": 1.0, "b.B": 4.0, "c.C": 10.0}
    assert expected_unit_seconds(units, expected)["new.New"] == 4.0
    scheduler = LongestFirstScheduler(units, expected, workers=2)
    # c (10 s) alone; b, the new one (4 s each) and a (1 s) on the other list.
    assert scheduler.next_item(1) == RunUnit(2, (0,))
    assert handed_out(scheduler, slot=2) == [0, 1, 3]


def test_without_history_every_unit_is_equal_and_discovery_order_stays() -> None:
    units = make_units(("a.A", 1), ("b.B", 1), ("c.C", 1))
    assert expected_unit_seconds(units, {}) == {"a.A": 0.0, "b.B": 0.0, "c.C": 0.0}
    assert handed_out(LongestFirstScheduler(units, {})) == [0, 1, 2]


def test_requeued_work_goes_back_first_on_its_own_list_and_drain_empties() -> None:
    units = make_units(("a.A", 3), ("b.B", 1), ("c.C", 1))
    scheduler = LongestFirstScheduler(units, {"a.A": 3.0, "b.B": 2.0, "c.C": 1.0}, workers=2)
    first = scheduler.next_item(1)
    assert first == RunUnit(0, (0, 1, 2))
    scheduler.requeue(RunUnit(0, (1, 2)))
    scheduler.requeue(RunUnit(1, ()))  # nothing left of it: not queued
    # The rest of a.A is its slot's again (its replacement starts on a fresh clone).
    scheduler.clone_replaced(1)
    assert scheduler.next_item(1) == RunUnit(0, (1, 2))
    assert scheduler.drain() == [RunUnit(1, (0,)), RunUnit(2, (0,))]
    assert len(scheduler) == 0
    assert scheduler.next_item(1) is None
    assert not scheduler.worth_a_fresh_clone(1)


def test_a_finished_list_takes_over_the_end_of_the_busiest_list() -> None:
    units = make_units(*[(f"m.U{i}", 1) for i in range(4)])
    expected = {"m.U0": 3.0, "m.U1": 1.0, "m.U2": 1.0, "m.U3": 1.0}
    scheduler = LongestFirstScheduler(units, expected, workers=2)
    assert scheduler.next_item(1) == RunUnit(0, (0,))  # its whole list
    assert scheduler.next_item(2) == RunUnit(1, (0,))
    # Slot 1 is done first: it takes the end of slot 2's list, half of what is left there.
    assert scheduler.next_item(1) == RunUnit(3, (0,))
    assert scheduler.next_item(2) == RunUnit(2, (0,))
    assert len(scheduler) == 0


def test_a_clone_never_takes_what_serial_runs_before_its_last_test() -> None:
    units = make_units(*[(f"m.U{i}", 1) for i in range(4)])
    scheduler = LongestFirstScheduler(units, {unit.key: 1.0 for unit in units}, workers=2)
    assert scheduler.next_item(1) == RunUnit(0, (0,))  # its list: units 0 and 2
    assert [scheduler.next_item(2), scheduler.next_item(2)] == [RunUnit(1, (0,)), RunUnit(3, (0,))]
    # Slot 2's clone ran unit 3: unit 2 comes before it in serial order.
    assert scheduler.next_item(2) is None
    # 1 s left on the other list: taking it over is not worth a fresh clone.
    assert not scheduler.worth_a_fresh_clone(2)
    assert scheduler.next_item(1) == RunUnit(2, (0,))


def test_a_lost_slots_list_goes_to_whoever_may_take_it() -> None:
    units = make_units(*[(f"m.U{i}", 1) for i in range(4)])
    expected = {"m.U0": 2.0, "m.U1": 2.0, "m.U2": 1.0, "m.U3": 1.0}
    scheduler = LongestFirstScheduler(units, expected, workers=2)
    assert scheduler.next_item(1) == RunUnit(0, (0,))  # its list: units 0 and 2
    scheduler.release_slot(2)  # lost before it took anything: units 1 and 3 are anyone's
    assert scheduler.worth_a_fresh_clone(1)
    assert handed_out(scheduler, slot=1) == [1, 2, 3]
    assert len(scheduler) == 0


def test_without_history_workers_take_the_next_unit_from_one_queue() -> None:
    # As Django's --parallel: a worker busy with a long unit leaves the rest to the others.
    units = make_units(*[(f"m.U{i}", 1) for i in range(6)])
    seconds = {0: 10.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
    runs: dict[int, list[list[RunUnit]]] = {}
    assert simulate(LongestFirstScheduler(units, {}, workers=2), seconds, 2, runs=runs) == 10.0
    assert [[item.unit for item in clone] for clone in runs[1]] == [[1, 2, 3, 4, 5]]


@pytest.mark.parametrize("history", [True, False])
@pytest.mark.parametrize("seed", range(20))
def test_every_clone_runs_its_units_in_serial_order(seed: int, history: bool) -> None:
    # Estimates off by up to 3x either way, so that lists end at other times than planned
    # and workers take over the ends of others' lists, or start again on fresh clones.
    rng = random.Random(seed)
    units = make_units(*[(f"m.U{i:02d}", 1) for i in range(30)])
    seconds = {unit.index: rng.choice([0.1, 0.5, 1.0, 4.0]) for unit in units}
    expected = {unit.key: seconds[unit.index] * rng.uniform(1 / 3, 3) for unit in units}
    if not history:
        expected = {}
    runs: dict[int, list[list[RunUnit]]] = {}
    simulate(LongestFirstScheduler(units, expected, workers=3), seconds, 3, runs=runs)
    ran = [item.unit for clones in runs.values() for clone in clones for item in clone]
    assert sorted(ran) == list(range(30))
    for clones in runs.values():
        for clone in clones:
            order = [item.unit for item in clone]
            assert order == sorted(order)


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_longest_first_beats_discovery_order_on_a_skewed_suite(workers: int) -> None:
    # Many short classes discovered first, the long ones last: discovery order leaves the
    # other workers idle while one works through a long class at the end.
    keys = [(f"short.S{i:02d}", 1) for i in range(12)] + [("long.L1", 1)]
    units = make_units(*keys)
    seconds = {unit.index: (0.5 if unit.key.startswith("short") else 6.0) for unit in units}
    expected = {unit.key: seconds[unit.index] for unit in units}
    discovery = simulate(DiscoveryScheduler(units, expected), seconds, workers)
    longest = simulate(LongestFirstScheduler(units, expected, workers=workers), seconds, workers)
    ideal = max(sum(seconds.values()) / workers, max(seconds.values()))
    assert longest < discovery
    assert longest <= ideal * 1.1
