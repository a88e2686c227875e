"""``--shard K/N``: a deterministic split, every unit in exactly one shard, balanced by history."""

from __future__ import annotations

import random

import pytest

from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.execution.scheduler import expected_unit_seconds, shard_units
from concurrent_test_app.protocol import CaseInfo, WorkUnitSpec


def make_units(count: int, tests: int = 3) -> list[WorkUnitSpec]:
    return [
        WorkUnitSpec(
            i,
            f"app{i % 7}.tests.Case{i:03d}",
            tuple(CaseInfo(f"app.Case{i:03d}.test_{t}", f"test_{t}") for t in range(tests)),
        )
        for i in range(count)
    ]


def synthetic_history(units: list[WorkUnitSpec], seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    # Skewed like real suites: most classes take a fraction of a second, a few take many.
    return {unit.key: round(rng.lognormvariate(0, 1.2), 3) for unit in units}


def all_shards(
    units: list[WorkUnitSpec], expected: dict[str, float], n: int
) -> list[list[WorkUnitSpec]]:
    return [shard_units(units, expected, k, n) for k in range(1, n + 1)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 16])
def test_every_unit_is_in_exactly_one_shard(n: int) -> None:
    units = make_units(60)
    shards = all_shards(units, synthetic_history(units, n), n)
    indexes = [unit.index for shard in shards for unit in shard]
    assert sorted(indexes) == list(range(60))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [2, 3, 4, 6, 8])
def test_largest_shard_is_within_ten_percent_of_the_ideal(seed: int, n: int) -> None:
    units = make_units(150)
    expected = synthetic_history(units, seed)
    loads = [sum(expected[u.key] for u in shard) for shard in all_shards(units, expected, n)]
    ideal = max(sum(expected.values()) / n, max(expected.values()))
    assert max(loads) <= ideal * 1.10, (loads, ideal)


def test_one_unit_longer_than_the_rest_together_gets_a_shard_of_its_own() -> None:
    units = make_units(10)
    expected = {unit.key: 1.0 for unit in units}
    expected[units[4].key] = 50.0
    shards = all_shards(units, expected, 3)
    alone = next(shard for shard in shards if units[4] in shard)
    assert alone == [units[4]]
    loads = sorted(sum(expected[u.key] for u in shard) for shard in shards)
    assert loads == [4.0, 5.0, 50.0]


def test_split_is_deterministic_and_ignores_the_order_units_arrive_in() -> None:
    units = make_units(40)
    expected = synthetic_history(units, 7)
    first = [[u.key for u in shard] for shard in all_shards(units, expected, 4)]
    again = [[u.key for u in shard] for shard in all_shards(units, dict(expected), 4)]
    shuffled_units = units[:]
    random.Random(1).shuffle(shuffled_units)
    shuffled = [sorted(u.key for u in shard) for shard in all_shards(shuffled_units, expected, 4)]
    assert first == again
    assert [sorted(keys) for keys in first] == shuffled


def test_shard_keeps_discovery_order() -> None:
    units = make_units(20)
    shard = shard_units(units, synthetic_history(units, 3), 2, 3)
    assert [u.index for u in shard] == sorted(u.index for u in shard)


def test_k_counts_from_one() -> None:
    units = make_units(3)
    expected = {units[0].key: 3.0, units[1].key: 2.0, units[2].key: 1.0}
    # Longest first to the emptiest shard, lower shard on ties: shard 1 takes the longest.
    assert shard_units(units, expected, 1, 3) == [units[0]]
    assert shard_units(units, expected, 3, 3) == [units[2]]


@pytest.mark.parametrize(("k", "n"), [(0, 2), (3, 2), (1, 0), (-1, 4)])
def test_out_of_range_shard_is_a_configuration_error(k: int, n: int) -> None:
    with pytest.raises(ConfigurationError, match=r"--shard .*1 <= K <= N"):
        shard_units(make_units(4), {}, k, n)


def test_without_history_shards_balance_the_number_of_tests() -> None:
    units = [
        WorkUnitSpec(i, f"m.C{i}", tuple(CaseInfo(f"m.C{i}.t{t}", "t") for t in range(size)))
        for i, size in enumerate([10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    ]
    shards = all_shards(units, {}, 2)
    assert sorted(sum(len(u.tests) for u in shard) for shard in shards) == [10, 10]


def test_more_shards_than_units_leaves_some_empty() -> None:
    units = make_units(2)
    shards = all_shards(units, {}, 5)
    assert sorted(len(shard) for shard in shards) == [0, 0, 0, 1, 1]


def test_unknown_units_count_as_the_median_when_balancing() -> None:
    units = make_units(9)
    expected = {u.key: 2.0 for u in units[:6]}
    assert expected_unit_seconds(units, expected)[units[8].key] == 2.0
    loads = [sum(1 for _ in shard) for shard in all_shards(units, expected, 3)]
    assert loads == [3, 3, 3]
