"""The session in the history: one ``Run`` written by the controller at the end, and shards.

Each test's record adds up its set-up, call and tear-down, and takes the worst outcome of
the three, in the JSON report's words. Tests are keyed by their unittest id where they have
one (``module.Class.test``), so ``concurrent_test`` and pytest share timings; other tests by
their node id. A unit is a TestCase class, or the scope ``--dist loadscope`` would give.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.db import connections

from concurrent_test_app.conf import app_settings
from concurrent_test_app.execution.scheduler import shard_units
from concurrent_test_app.history import load_expected, record_run, write_timings_file
from concurrent_test_app.protocol import CaseInfo, WorkUnitSpec
from concurrent_test_app.pytest_plugin.clones import slot_of
from concurrent_test_app.pytest_plugin.items import unit_key, unittest_id
from concurrent_test_app.reports.records import CaseRecord, RunReport, UnitRecord, WorkerRecord

logger = logging.getLogger(__name__)

# Worse outcomes win when the phases of one test disagree (a failing tear-down after a pass).
_SEVERITY = {"passed": 0, "skipped": 1, "expected_failure": 1, "unexpected_success": 2}
_SEVERITY.update({"failed": 3, "error": 4})
# The summary's count for each outcome, as the JSON report names them.
_COUNTED = {
    "failed": "failures",
    "error": "errors",
    "skipped": "skipped",
    "expected_failure": "expected_failures",
    "unexpected_success": "unexpected_successes",
}


def outcome_of(report: pytest.TestReport) -> str:
    """Return the outcome one phase's report gives its test."""
    xfail = hasattr(report, "wasxfail")
    if report.when != "call":
        if report.failed:
            return "error"  # a fixture, or a worker that crashed ("???")
        return "skipped" if report.skipped else "passed"
    if report.skipped:
        return "expected_failure" if xfail else "skipped"
    if report.failed:
        return "failed"
    return "unexpected_success" if xfail else "passed"


class SessionRecorder:
    """Collect every test report the controller sees; write the session once, at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.time()
        self.cases: dict[str, CaseRecord] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)
        worker = getattr(getattr(node, "gateway", None), "id", None)
        record = self.cases.get(report.nodeid)
        if record is None:
            test_id = getattr(report, "concurrent_test_id", None)
            record = CaseRecord(
                test_id or report.nodeid, "passed", unit=unit_key(test_id, report.nodeid)
            )
            self.cases[report.nodeid] = record
        record.worker = slot_of(worker)
        record.duration += report.duration
        outcome = outcome_of(report)
        if _SEVERITY[outcome] > _SEVERITY[record.outcome]:
            record.outcome = outcome
            if report.failed or report.skipped:
                record.message = str(report.longreprtext)[:10_000]

    def report(self, exitstatus: int, templates: list[Any], shard: str | None) -> RunReport:
        """Return the session as the runner's report of a run."""
        finished = time.time()
        tests = list(self.cases.values())
        summary: dict[str, Any] = {"tests_run": len(tests), "not_run": 0}
        summary["passed"] = sum(1 for t in tests if t.outcome == "passed")
        for outcome, count in _COUNTED.items():
            summary[count] = sum(1 for t in tests if t.outcome == outcome)
        workers: dict[int, WorkerRecord] = {}
        units: dict[tuple[str, int | None], UnitRecord] = {}
        for test in tests:
            slot = test.worker or 1
            worker = workers.setdefault(slot, WorkerRecord(slot))
            worker.tests += 1
            worker.busy_seconds += test.duration
            unit = units.setdefault((test.unit, slot), UnitRecord(test.unit, slot, 0.0, 0.0))
            unit.seconds += test.duration
        summary.update(
            wall_seconds=finished - self.started,
            workers=len(workers),
            successful=exitstatus == 0,
        )
        return RunReport(
            summary=summary,
            tests=tests,
            workers=list(workers.values()),
            templates=templates,
            units=list(units.values()),
            started_at=self.started,
            finished_at=finished,
            shard=shard,
            vendor=connections["default"].vendor if "default" in connections else "",
            exit_status=exitstatus,
        )

    def finish(self, exitstatus: int, templates: list[Any], shard: str | None) -> None:
        """Write the session into the history and the timings file, if there were tests."""
        if not self.cases:
            return
        report = self.report(exitstatus, templates, shard)
        record_run(report)
        path = app_settings.timings_file
        if path is not None:
            write_timings_file(report, path)


def select_shard(items: list[pytest.Item], k: int, n: int) -> list[pytest.Item]:
    """Return the items of shard ``k`` of ``n``: units split longest-first, as the runner."""
    keys: dict[str, list[pytest.Item]] = {}
    for item in items:
        keys.setdefault(unit_key(unittest_id(item), item.nodeid), []).append(item)
    units = [
        WorkUnitSpec(index, key, tuple(CaseInfo(i.nodeid, i.nodeid) for i in members))
        for index, (key, members) in enumerate(keys.items())
    ]
    expected = load_expected(list(keys), timings_file=app_settings.timings_file)
    chosen = {unit.key for unit in shard_units(units, expected, k, n)}
    return [item for item in items if unit_key(unittest_id(item), item.nodeid) in chosen]
