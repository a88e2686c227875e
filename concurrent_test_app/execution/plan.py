"""What a run runs: the discovered suite cut into work units, and this shard's share of them."""

from __future__ import annotations

import logging
import multiprocessing
import unittest
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.test.runner import DiscoverRunner

from concurrent_test_app.execution.scheduler import shard_units
from concurrent_test_app.execution.split import LoadCosts, split_units
from concurrent_test_app.protocol import WorkerSpec, WorkUnitSpec, plain_options
from concurrent_test_app.suite import describe_units, group_units, select_units, units_digest

logger = logging.getLogger(__name__)


@dataclass
class RunPlan:
    """The units a run runs (this shard's, when sharded), their tests and expected seconds."""

    groups: list[list[unittest.TestCase]] = field(default_factory=list)
    units: list[WorkUnitSpec] = field(default_factory=list)
    expected: dict[str, float] = field(default_factory=dict)  # unit key -> seconds (history)
    selection: tuple[int, ...] | None = None  # this shard's units, by whole-suite index
    test_labels: tuple[str, ...] = ()

    @classmethod
    def cut(
        cls,
        suite: unittest.TestSuite,
        *,
        test_labels: Sequence[str],
        phases: tuple[type, ...],
        load_expected: Callable[[list[str]], dict[str, float]],
        shard: tuple[int, int] | None,
    ) -> RunPlan:
        """Return the plan of ``suite``: its units, or shard ``(k, n)`` of them."""
        groups = group_units(suite)
        # Keys come from the whole suite, before any shard is cut out of it.
        units = describe_units(groups, phases)
        expected = load_expected([unit.key for unit in units])
        if shard is None:
            return cls(groups, units, expected, None, tuple(test_labels))
        k, n = shard
        chosen = tuple(unit.index for unit in shard_units(units, expected, k, n))
        groups, units = select_units(groups, units, chosen)
        return cls(groups, units, expected, tuple(sorted(chosen)), tuple(test_labels))

    def split(self, workers: int, load_costs: LoadCosts) -> None:
        """Cut each class that would bound the run on ``workers`` into pieces, where it pays."""
        self.units = split_units(self.units, self.groups, self.expected, workers, load_costs)

    def split_keys(self) -> list[str]:
        return [unit.key for unit in self.units if unit.pieces]

    def tests(self) -> list[unittest.TestCase]:
        """Return every test of the plan, unit after unit."""
        return [test for group in self.groups for test in group]

    def test_count(self) -> int:
        return sum(len(unit.tests) for unit in self.units)

    def test_ids(self) -> list[str]:
        return [test.id for unit in self.units for test in unit.tests]

    def worker_spec(
        self,
        runner: DiscoverRunner,
        *,
        runner_path: str,
        runner_kwargs: Mapping[str, Any],  # Any: the runner's keyword options, of many types
    ) -> WorkerSpec:
        """Return what every worker of ``runner`` starts from (slot and databases come later)."""
        shuffle = False if runner.shuffle is False else runner.shuffle_seed
        return WorkerSpec(
            slot=0,
            rebuild=multiprocessing.get_start_method() != "fork",
            database_settings={},
            database_name="",
            failfast=runner.failfast,
            buffer=runner.buffer,
            debug_sql=runner.debug_sql,
            debug_mode=runner.debug_mode,
            runner_path=runner_path,
            runner_kwargs=plain_options({**runner_kwargs, "shuffle": shuffle}),
            test_labels=self.test_labels,
            units_digest=units_digest(self.units),
            selection=self.selection,
        )

    def expected_wall_seconds(self, workers: int) -> float | None:
        """Return the expected wall time on ``workers`` workers, or None without history."""
        if not self.expected:
            return None
        return sum(self.expected.values()) / max(workers, 1)
