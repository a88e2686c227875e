"""``--longest-first``: xdist's loadscope, with the scopes handed out longest expected first.

A scope is what ``--dist loadscope`` makes of a node id: a class (so ``setUpTestData`` and
``setUpClass`` run once) or a module's functions. Its expected seconds come from the app's
history, keyed as :mod:`.recording` writes them; a scope the history has never seen gets the
median of the known ones, as the runner's scheduler gives it. Without any history, the
order is loadscope's own.

The order is applied each time a scope is handed out, so a scope put back after its worker
crashed takes its place by length again. pytest-django's promise that no TestCase runs after
a transactional test on the same database is kept on the workers' side (:mod:`.clones`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from xdist.scheduler.loadscope import LoadScopeScheduling

from concurrent_test_app.conf import app_settings
from concurrent_test_app.execution.scheduler import expected_unit_seconds
from concurrent_test_app.history import load_expected
from concurrent_test_app.protocol import WorkUnitSpec
from concurrent_test_app.pytest_plugin import pinned
from concurrent_test_app.pytest_plugin.items import key_candidates

logger = logging.getLogger(__name__)


def expected_by_scope(scopes: list[str], known: dict[str, float]) -> dict[str, float]:
    """Return each scope's expected seconds, from the history's ``known`` unit keys."""
    found = {}
    for scope in scopes:
        for key in key_candidates(scope):
            if key in known:
                found[scope] = known[key]
                break
    units = [WorkUnitSpec(index, scope, ()) for index, scope in enumerate(scopes)]
    return expected_unit_seconds(units, found) if found else {}


class LongestFirstScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """Load scheduling by scope, the longest expected scope first."""

    workqueue: OrderedDict[str, dict[str, bool]]  # the base class's, scope -> its tests

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self._expected: dict[str, float] | None = None

    def _load(self, scopes: list[str]) -> dict[str, float]:
        keys = [key for scope in scopes for key in key_candidates(scope)]
        with pinned.db_blocker(self.config).unblock():
            known = load_expected(keys, timings_file=app_settings.timings_file)
        expected = expected_by_scope(scopes, known)
        logger.info("Expected durations known for %d of %d scopes", len(known), len(scopes))
        return expected

    def remove_node(self, node: Any) -> str | None:
        """Put a lost worker's scopes back, without the test it crashed in.

        xdist reports that test as failed; loadscope would put it back too and run it again.
        """
        crashed: str | None = super().remove_node(node)
        if crashed is not None:
            tests = self.workqueue.get(self._split_scope(crashed))
            if tests is not None:
                tests[crashed] = True
                if all(tests.values()):
                    del self.workqueue[self._split_scope(crashed)]
        return crashed

    def _assign_work_unit(self, node: Any) -> None:
        if self._expected is None:
            self._expected = self._load(list(self.workqueue))
        if self._expected:
            expected = self._expected
            ranked = sorted(self.workqueue.items(), key=lambda item: -expected.get(item[0], 0.0))
            self.workqueue = OrderedDict(ranked)
        super()._assign_work_unit(node)
