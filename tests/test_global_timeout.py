"""The global timeout: dispatch stops, workers stop, unfinished tests are not_run, exit status 3."""

from __future__ import annotations

from pathlib import Path

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import Project

project = harness.project
used_servers = harness.used_servers

LABEL = "mishaps.tests.test_slow"  # twelve one-second tests in six classes


def test_global_timeout_exits_3_and_reports_what_did_not_run(
    project: Project, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    run = project.manage(
        "concurrent_test",
        LABEL,
        "--noinput",
        "--no-progress",
        "--no-history",
        "--workers",
        "2",
        "--timeout-global",
        "4",
        "--json-report",
        str(report),
    )
    assert run.returncode == 3, run.describe()
    assert run.seconds < 30, run.describe()
    outcomes = run.outcomes
    assert len(outcomes) == 12, run.describe()
    not_run = [test for test, outcome in outcomes.items() if outcome == "not_run"]
    finished = [test for test, outcome in outcomes.items() if outcome == "passed"]
    assert not_run and finished, outcomes
    assert set(not_run) | set(finished) == set(outcomes)
    assert all("global timeout" in run.messages[test] for test in not_run)
    summary = run.report["summary"]
    assert summary["not_run"] == len(not_run)
    assert summary["successful"] is False
    assert "--timeout-global" in run.stdout + run.stderr
    assert project.leftovers() == [], run.describe()
