"""Work units, their phases and flags, and how the scheduler treats a worker a flush dirtied."""

from __future__ import annotations

import unittest

from django.test.runner import DiscoverRunner

from concurrent_test_app.execution.scheduler import DiscoveryScheduler, LongestFirstScheduler
from concurrent_test_app.protocol import CaseInfo, RunUnit, WorkUnitSpec
from concurrent_test_app.suite import describe_units, group_units, units_digest

from .unitsamples import plain, with_module_fixtures

PHASES = (unittest.loader._FailedTest, *DiscoverRunner.reorder_by)  # type: ignore[attr-defined]


def load(*classes: type) -> list[unittest.TestCase]:
    loader = unittest.TestLoader()
    return [test for cls in classes for test in loader.loadTestsFromTestCase(cls)]


def test_one_class_is_one_unit_in_order_of_first_appearance() -> None:
    tests = load(plain.DataTests, plain.FlushTests, plain.NoDatabaseTests)
    units = describe_units(group_units(tests), PHASES)
    assert [u.key for u in units] == [
        "tests.unitsamples.plain.DataTests",
        "tests.unitsamples.plain.FlushTests",
        "tests.unitsamples.plain.NoDatabaseTests",
    ]
    assert [len(u.tests) for u in units] == [2, 1, 1]
    assert units[0].tests[0] == CaseInfo(
        "tests.unitsamples.plain.DataTests.test_one",
        "test_one (tests.unitsamples.plain.DataTests.test_one)",
        None,
    )


def test_a_module_with_fixtures_is_one_unit_per_stretch() -> None:
    module = with_module_fixtures
    # As Django orders them: the TestCase first, then the others, with another class between.
    tests = load(module.FirstTests, plain.DataTests, module.SecondTests, module.ThirdTests)
    units = describe_units(group_units(tests), PHASES)
    assert [u.key for u in units] == [
        "tests.unitsamples.with_module_fixtures",
        "tests.unitsamples.plain.DataTests",
        "tests.unitsamples.with_module_fixtures#2",
    ]
    assert [len(u.tests) for u in units] == [1, 2, 2]


def test_phases_and_database_flags() -> None:
    tests = load(plain.DataTests, plain.FlushTests, plain.NoDatabaseTests, plain.PlainTests)
    data, flush, simple, other = describe_units(group_units(tests), PHASES)
    assert (data.phase, flush.phase, simple.phase, other.phase) == (1, 2, 2, 3)
    assert data.needs_clean and not data.flushes
    assert flush.flushes and not flush.needs_clean
    assert not (simple.flushes or simple.needs_clean or other.flushes or other.needs_clean)


def test_digest_changes_with_the_tests() -> None:
    one = describe_units(group_units(load(plain.DataTests)))
    two = describe_units(group_units(load(plain.DataTests, plain.FlushTests)))
    assert units_digest(one) == units_digest(describe_units(group_units(load(plain.DataTests))))
    assert units_digest(one) != units_digest(two)


def spec(index: int, key: str, *, needs_clean: bool = False, flushes: bool = False, phase: int = 1):
    info = CaseInfo(f"{key}.test", f"test ({key}.test)")
    return WorkUnitSpec(index, key, (info,), phase, flushes=flushes, needs_clean=needs_clean)


def test_a_clone_runs_testcase_units_before_a_flush_as_serial_does() -> None:
    units = [
        spec(0, "flush", flushes=True, phase=2),
        spec(1, "data", needs_clean=True),
        spec(2, "simple", phase=2),
    ]
    scheduler = LongestFirstScheduler(units, {"flush": 9.0, "data": 5.0, "simple": 1.0})
    # One list, in serial order: the TestCase unit before the flush, whatever the estimates.
    assert [scheduler.next_item(1) for _ in range(3)] == [
        RunUnit(1, (0,)),
        RunUnit(0, (0,)),
        RunUnit(2, (0,)),
    ]


def test_a_dirty_worker_is_never_given_a_testcase_unit() -> None:
    units = [
        spec(0, "flush", flushes=True, phase=2),
        spec(1, "data", needs_clean=True),
        spec(2, "simple", phase=2),
    ]
    scheduler = LongestFirstScheduler(units, {"flush": 9.0, "data": 5.0, "simple": 1.0}, 2)
    assert scheduler.next_item(1) == RunUnit(0, (0,))
    scheduler.release_slot(2)  # its list (data, simple) is anyone's now
    # The worker that ran the flush takes the safe unit after it, never the TestCase unit...
    assert scheduler.next_item(1, dirty=True) == RunUnit(2, (0,))
    assert scheduler.next_item(1, dirty=True) is None
    # ...which is worth a fresh clone: the pool gives it one, and then it takes it.
    assert scheduler.worth_a_fresh_clone(1)
    scheduler.clone_replaced(1)
    assert scheduler.next_item(1) == RunUnit(1, (0,))
    assert len(scheduler) == 0


def test_discovery_keeps_djangos_type_order() -> None:
    units = [spec(0, "flush", flushes=True, phase=2), spec(1, "data", needs_clean=True)]
    scheduler = DiscoveryScheduler(units, {})
    assert [scheduler.next_item(1), scheduler.next_item(1)] == [
        RunUnit(1, (0,)),
        RunUnit(0, (0,)),
    ]
