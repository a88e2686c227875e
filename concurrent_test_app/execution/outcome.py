"""How a run ended, and what is kept of it.

The pool's outcome gives the command's exit status; with the ledger it makes the run's report,
which goes to the timing history, the timings file and the report files the options name.
"""

from __future__ import annotations

import logging
import signal
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connections

from concurrent_test_app import history
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.reports.files import write_json_report
from concurrent_test_app.reports.records import CaseRecord, Ledger, RunReport, WorkerRecord

logger = logging.getLogger(__name__)

# The exit status when the global timeout cut the run short (1 is a failed test, 2 bad usage).
EXIT_GLOBAL_TIMEOUT = 3
# The exit status after SIGINT and SIGTERM, as a shell reports a process they ended: 128 + n.
EXIT_BY_SIGNAL: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass
class PoolOutcome:
    """How the pool's run ended, and each slot's workers."""

    global_timeout: bool = False
    interrupted: int | None = None  # the signal number that stopped the run
    workers: list[WorkerRecord] = field(default_factory=list)
    wall_seconds: float = 0.0

    def notices(self) -> list[str]:
        """Return what the user is told when the run did not end by itself."""
        notices = []
        if self.interrupted is not None:
            name = signal.Signals(self.interrupted).name
            notices.append(
                f"The run was interrupted by {name}: workers stopped, their databases dropped; "
                "tests that did not finish are reported as not run."
            )
        if self.global_timeout:
            notices.append(
                "The global timeout cut the run short; tests that did not run are reported "
                "as not run (--timeout-global / DJANGO_TEST_TIMEOUT_GLOBAL)."
            )
        return notices

    def exit_status(self, result: unittest.TestResult | None) -> int:
        """Return the command's exit status: a signal's, the global timeout's, 1 or 0."""
        if self.interrupted is not None:
            return EXIT_BY_SIGNAL.get(self.interrupted, 128 + self.interrupted)
        if self.global_timeout:
            return EXIT_GLOBAL_TIMEOUT
        if result is not None and not result.wasSuccessful():
            return 1
        return 0


def summary(
    result: unittest.TestResult | None,
    records: list[CaseRecord],
    outcome: PoolOutcome,
    workers: int,
) -> dict[str, object]:
    """Return the report's summary: unittest's counts, the not-run tests and the verdict."""

    def count(name: str) -> int:
        return len(getattr(result, name, ()) or ()) if result is not None else 0

    passed = sum(1 for r in records if r.outcome == "passed")
    not_run = sum(1 for r in records if r.outcome == "not_run")
    failures, errors = count("failures"), count("errors")
    unexpected = count("unexpectedSuccesses")
    return {
        "tests_run": result.testsRun if result is not None else 0,
        "passed": passed,
        "failures": failures,
        "errors": errors,
        "skipped": count("skipped"),
        "expected_failures": count("expectedFailures"),
        "unexpected_successes": unexpected,
        "not_run": not_run,
        "wall_seconds": round(outcome.wall_seconds, 3),
        "workers": workers,
        "successful": not (failures or errors or unexpected)
        and not outcome.global_timeout
        and outcome.interrupted is None,
    }


def run_report(
    result: unittest.TestResult | None,
    outcome: PoolOutcome,
    ledger: Ledger,
    *,
    workers: int,
    databases: WorkerDatabases | None,
    started_at: float,
    shard: tuple[int, int] | None,
) -> RunReport:
    """Return the run's report: every test's record, the workers, the templates, the summary."""
    records = ledger.records()
    return RunReport(
        summary=summary(result, records, outcome, workers),
        tests=records,
        workers=outcome.workers,
        templates=databases.templates if databases else [],
        units=ledger.unit_records,
        started_at=started_at,
        finished_at=time.time(),
        shard=f"{shard[0]}/{shard[1]}" if shard else None,
        vendor=connections["default"].vendor if "default" in connections else "",
        exit_status=outcome.exit_status(result),
        clone_seconds=list(databases.clone_seconds) if databases else [],
        split_units=[unit.key for unit in ledger.units if unit.pieces],
    )


def publish(
    report: RunReport,
    *,
    to_history: bool,
    timings_file: Path | None,
    json_report: Path | None,
    junit_xml: Path | None,
    metrics_file: Path | None,
) -> None:
    """Write ``report`` to the timing history and to each file given."""
    if to_history:
        history.record_run(report)
    if timings_file is not None:
        history.write_timings_file(report, timings_file)
    if json_report is not None:
        write_json_report(report, json_report)
    # The JUnit writer (xml.etree) and prometheus_client load only for a run that asks.
    if junit_xml is not None:
        from concurrent_test_app.reports.junit import write_junit_xml

        write_junit_xml(report, junit_xml)
    if metrics_file is not None:
        from concurrent_test_app.reports.metrics import write_metrics_file

        write_metrics_file(report, metrics_file, report.clone_seconds)
