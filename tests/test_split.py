"""Splitting the class that bounds the run: which classes, into which pieces, and when it pays.

Pure and exact: suites are built from sample classes and history is handed in, no processes.
The end-to-end verdict of a split class is in ``test_split_run.py``.
"""

from __future__ import annotations

import unittest
from pathlib import Path

import pytest

from concurrent_test_app.execution.scheduler import LongestFirstScheduler
from concurrent_test_app.execution.split import Workload, choose_pieces, partition, split_units
from concurrent_test_app.history import SplitCosts, load_split_costs, record_run, unit_totals
from concurrent_test_app.protocol import CaseInfo, Piece, ResultCall, RunUnit
from concurrent_test_app.reports.records import Ledger, RunReport, UnitRecord
from concurrent_test_app.suite import describe_units, group_units, splittable

from .unitsamples import splitting as samples
from .unitsamples import with_module_fixtures


def load(*classes: type) -> list[unittest.TestCase]:
    loader = unittest.TestLoader()
    return [test for cls in classes for test in loader.loadTestsFromTestCase(cls)]


def key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def no_history(keys: object, ids: object) -> SplitCosts:
    return SplitCosts()


# -- which classes -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [samples.BigTests, samples.SimpleBigTests])
def test_simple_and_plain_test_cases_may_be_split(cls: type) -> None:
    assert splittable(load(cls))


@pytest.mark.parametrize(
    "cls",
    [
        samples.FlushingTests,
        samples.LiveTests,
        samples.PlainTests,
        samples.DecoratedTests,
        samples.AttributeTests,
        samples.SkippedTests,
    ],
)
def test_other_classes_and_opted_out_ones_stay_whole(cls: type) -> None:
    assert not splittable(load(cls))


def test_a_module_with_set_up_module_stays_whole() -> None:
    groups = group_units(load(with_module_fixtures.FirstTests, with_module_fixtures.SecondTests))
    assert len(groups) == 1
    assert not splittable(groups[0])


def test_a_single_test_cannot_be_split() -> None:
    assert not splittable(load(samples.SmallTests))


# -- when it pays --------------------------------------------------------------------------------


def plan(
    *classes: type, seconds: dict[type, float], costs: SplitCosts, workers: int = 2
) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    groups = group_units(load(*classes))
    units = describe_units(groups)
    expected = {key(cls): value for cls, value in seconds.items()}
    split = split_units(units, groups, expected, workers, lambda keys, ids: costs)
    return [(unit.key, tuple(piece.tests for piece in unit.pieces)) for unit in split]


def plan_big_and_small(
    big: float, small: float, *, setup: float, workers: int = 2
) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    """Plan BigTests and SmallTests, history saying they take ``big`` and ``small`` seconds."""
    return plan(
        samples.BigTests,
        samples.SmallTests,
        seconds={samples.BigTests: big, samples.SmallTests: small},
        costs=SplitCosts(setup={key(samples.BigTests): setup}),
        workers=workers,
    )


def test_the_class_that_bounds_the_run_is_split_across_the_workers() -> None:
    units = plan_big_and_small(8.0, 2.0, setup=0.1)
    assert units == [(key(samples.BigTests), ((0, 2), (1, 3))), (key(samples.SmallTests), ())]


def test_a_class_under_its_share_of_the_run_stays_whole() -> None:
    units = plan_big_and_small(5.0, 5.0, setup=0.1)
    assert units == [(key(samples.BigTests), ()), (key(samples.SmallTests), ())]


def test_no_split_when_the_repeated_set_up_costs_more_than_it_gains() -> None:
    # Whole: 8 s. Split in two: pieces of 5 + 1.5 s, but the run holds 10 + 5 s of work: 7.5 s
    # on each worker, a gain of 0.5 s for 5 s more work.
    units = plan_big_and_small(8.0, 2.0, setup=5.0)
    assert units == [(key(samples.BigTests), ()), (key(samples.SmallTests), ())]


def test_without_history_nothing_is_split() -> None:
    groups = group_units(load(samples.BigTests, samples.SmallTests))
    units = describe_units(groups)
    assert split_units(units, groups, {}, 2, no_history) == units


def test_with_one_worker_nothing_is_split() -> None:
    units = plan_big_and_small(8.0, 2.0, setup=0.1, workers=1)
    assert units == [(key(samples.BigTests), ()), (key(samples.SmallTests), ())]


def test_opted_out_and_flushing_classes_are_never_split() -> None:
    for cls in (samples.DecoratedTests, samples.AttributeTests, samples.FlushingTests):
        units = plan(
            cls, samples.SmallTests, seconds={cls: 8.0, samples.SmallTests: 1.0}, costs=SplitCosts()
        )
        assert units == [(key(cls), ()), (key(samples.SmallTests), ())]


def test_pieces_balance_the_tests_history_timed() -> None:
    unit = describe_units(group_units(load(samples.BigTests)))[0]
    tests = {
        info.id: seconds for info, seconds in zip(unit.tests, (6.0, 1.0, 1.0, 2.0), strict=True)
    }
    costs = SplitCosts(setup={unit.key: 0.0}, tests=tests)
    pieces = choose_pieces(unit, 10.0, costs, Workload(total=12.0, workers=2, longest_other=2.0))
    assert [piece.tests for piece in pieces] == [(0,), (1, 2, 3)]
    assert [piece.seconds for piece in pieces] == [6.0, 4.0]


def test_each_piece_costs_one_set_up_and_keeps_the_unit_order() -> None:
    pieces = partition([1.0, 3.0, 1.0, 1.0], 2, setup=0.5)
    assert pieces == (Piece((0, 2, 3), 3.5), Piece((1,), 3.5))


def test_four_workers_get_four_pieces_when_that_is_shortest() -> None:
    units = plan_big_and_small(12.0, 0.1, setup=0.0, workers=4)
    assert len(units[0][1]) == 4


# -- handing the pieces out ----------------------------------------------------------------------


def test_pieces_are_dealt_among_the_units_by_their_own_estimates() -> None:
    costs = SplitCosts(setup={key(samples.BigTests): 0.0})
    groups = group_units(load(samples.SmallTests, samples.BigTests))
    expected = {key(samples.BigTests): 8.0, key(samples.SmallTests): 3.0}
    units = split_units(describe_units(groups), groups, expected, 2, lambda k, i: costs)
    scheduler = LongestFirstScheduler(units, expected, workers=2)
    # Two pieces of 4 s go to two lists, SmallTests (3 s) beside the first; each list runs
    # in serial order: SmallTests, discovered first, before its piece of BigTests.
    assert [scheduler.next_item(1), scheduler.next_item(1)] == [
        RunUnit(0, (0,)),
        RunUnit(1, (0, 2)),
    ]
    assert scheduler.next_item(2) == RunUnit(1, (1, 3))


# -- one verdict ---------------------------------------------------------------------------------


def test_a_class_fixture_error_of_several_pieces_is_reported_once() -> None:
    groups = group_units(load(samples.BigTests))
    unit = describe_units(groups)[0]
    unit = type(unit)(**{**unit.__dict__, "pieces": (Piece((0, 1)), Piece((2, 3)))})
    name = f"setUpClass ({key(samples.BigTests)})"
    error = ResultCall("addError", -1, holder=CaseInfo(name, name), error="Traceback")
    first, second = RunUnit(0, (0, 1)), RunUnit(0, (2, 3))
    ledger = Ledger([unit])
    assert ledger.first_reports(unit, first, (error,)) == (error,)
    assert ledger.first_reports(unit, second, (error,)) == ()
    # The piece that reported it first keeps reporting (a tear-down and a class cleanup).
    assert ledger.first_reports(unit, first, (error,)) == (error,)


def test_a_whole_unit_reports_every_fixture_error() -> None:
    unit = describe_units(group_units(load(samples.BigTests)))[0]
    error = ResultCall("addError", -1, holder=CaseInfo("setUpClass (x)", "x"), error="Traceback")
    ledger = Ledger([unit])
    item = RunUnit(0, (0, 1, 2, 3))
    assert ledger.first_reports(unit, item, (error,)) == (error,)
    assert ledger.first_reports(unit, RunUnit(0, (2, 3)), (error,)) == (error,)


def test_history_records_a_split_class_as_it_would_run_whole() -> None:
    report = RunReport(
        summary={},
        tests=[],
        workers=[],
        templates=[],
        units=[
            UnitRecord(key(samples.BigTests), 1, 5.0, 1.0),
            UnitRecord(key(samples.BigTests), 2, 4.0, 1.0),
            UnitRecord(key(samples.SmallTests), 1, 1.0, 0.5),
        ],
        started_at=0.0,
        finished_at=10.0,
        split_units=[key(samples.BigTests)],
    )
    totals = unit_totals(report)
    assert totals[key(samples.BigTests)]["seconds"] == pytest.approx(8.0)
    assert totals[key(samples.BigTests)]["setup_seconds"] == pytest.approx(1.0)
    assert totals[key(samples.SmallTests)]["seconds"] == pytest.approx(1.0)


@pytest.mark.django_db
def test_history_gives_a_class_set_up_and_its_tests_durations(tmp_path: Path) -> None:
    from tests.test_history import make_report

    record_run(make_report({"app.tests.Big": 4.2, "app.tests.Small": 1.0}, setup=0.2))
    costs = load_split_costs(["app.tests.Big"], ["app.tests.Big.test_0", "app.tests.Big.test_1"])
    assert costs.setup == {"app.tests.Big": pytest.approx(0.2)}
    assert costs.tests == {
        "app.tests.Big.test_0": pytest.approx(2.0),
        "app.tests.Big.test_1": pytest.approx(2.0),
    }
    # Under --no-history only the timings file speaks, and it knows no test durations.
    timings = tmp_path / "timings.json"
    timings.write_text('{"units": {"app.tests.Big": {"seconds": 5, "setup_seconds": 0.5}}}')
    costs = load_split_costs(
        ["app.tests.Big"], ["app.tests.Big.test_0"], timings_file=timings, from_database=False
    )
    assert costs == SplitCosts(setup={"app.tests.Big": 0.5})


def test_a_second_class_is_split_against_the_first_ones_pieces() -> None:
    costs = SplitCosts(setup={key(samples.BigTests): 0.0, key(samples.SimpleBigTests): 0.0})
    seconds = {samples.BigTests: 8.0, samples.SimpleBigTests: 5.0, samples.SmallTests: 0.1}
    units = plan(
        samples.BigTests,
        samples.SimpleBigTests,
        samples.SmallTests,
        seconds=seconds,
        costs=costs,
        workers=3,
    )
    # Once BigTests runs as two pieces of 4 s, SimpleBigTests (5 s) bounds the run in turn.
    assert [len(pieces) for _, pieces in units] == [2, 2, 0]
