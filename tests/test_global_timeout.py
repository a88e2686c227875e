"""The global timeout: dispatch stops, workers stop, unfinished tests are not_run, exit status 3."""

from __future__ import annotations

from pathlib import Path

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import Project, left_running

project = harness.project
used_servers = harness.used_servers

LABEL = "mishaps.tests.test_blocking"  # a quick class, then classes that wait forever
QUICK = {
    "mishaps.tests.test_blocking.AQuickTests.test_one",
    "mishaps.tests.test_blocking.AQuickTests.test_two",
}


def test_global_timeout_exits_3_and_reports_what_did_not_run(
    project: Project, tmp_path: Path
) -> None:
    """Nothing races the clock: the blocked tests would wait forever, only the limit ends them."""
    report = tmp_path / "report.json"
    run = project.manage(
        "concurrent_test",
        LABEL,
        "--noinput",
        "--no-progress",
        "--no-history",
        "--scheduler",
        "discovery",
        "--workers",
        "2",
        "--timeout-per-test",
        "0",
        "--timeout-global",
        "10",
        "--json-report",
        str(report),
    )
    assert run.returncode == 3, run.describe()
    outcomes = run.outcomes
    assert len(outcomes) == 6, run.describe()
    finished = {test for test, outcome in outcomes.items() if outcome == "passed"}
    assert finished == QUICK, outcomes
    not_run = set(outcomes) - finished
    assert all(outcomes[test] == "not_run" for test in not_run), outcomes
    assert all("global timeout" in run.messages[test] for test in not_run)
    summary = run.report["summary"]
    assert summary["not_run"] == len(not_run) == 4
    assert summary["successful"] is False
    assert "--timeout-global" in run.stdout + run.stderr
    assert project.leftovers() == [], run.describe()
    assert left_running(run.marker) == [], run.describe()
