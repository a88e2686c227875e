"""Worker recycling (issue 6): by unit count and by resident memory, read from the JSON report.

A recycled worker is replaced between units and keeps its clone; it is counted in
``workers[].recycles`` and never as a restart, and every test still passes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import Project, Run

project = harness.project
used_servers = harness.used_servers

ORDINARY = "mishaps.tests.test_ordinary"  # 6 classes (units), 30 tests, half of them writing
ORDINARY_UNITS = 6
GROWTH = "mishaps.tests.test_growth"  # 8 one-test classes, each keeping 70 MB more
GROWTH_UNITS = 8
GROWTH_MB = 70
MEMORY_LIMIT_MB = 150


def run_suite(project: Project, label: str, *options: str) -> Run:
    run = project.concurrent_test(label, *options)
    assert run.returncode == 0, run.describe()
    assert run.report, run.describe()
    return run


def totals(report: dict[str, Any], key: str) -> int:
    return sum(int(worker[key]) for worker in report["workers"])


def recycle_lines(run: Run) -> list[str]:
    """Return the lines in which the run logged a recycled worker."""
    output = f"{run.stdout}\n{run.stderr}"
    return re.findall(r"\[CONCURRENT\] Recycling worker \d+: [^\n]*", output)


def assert_all_passed(run: Run, count: int) -> None:
    summary = run.report["summary"]
    assert summary["passed"] == summary["tests_run"] == count, run.describe()
    assert set(run.outcomes.values()) == {"passed"}, run.outcomes


def test_max_units_per_worker_recycles_after_every_unit(project: Project, tmp_path: Path) -> None:
    run = run_suite(project, ORDINARY, "--max-units-per-worker", "1")

    assert_all_passed(run, 30)
    report = run.report
    assert totals(report, "units") == ORDINARY_UNITS, report["workers"]
    # Each worker process runs one unit. The two first processes need no recycle; every unit
    # after them runs on a process that replaced a recycled one, and the last recycle may
    # find nothing left to hand to its successor.
    assert ORDINARY_UNITS - 2 <= totals(report, "recycles") <= ORDINARY_UNITS - 1, report["workers"]
    assert totals(report, "restarts") == 0, report["workers"]
    logged = recycle_lines(run)
    assert len(logged) == totals(report, "recycles"), logged
    assert all(line.endswith("it ran 1 unit") for line in logged), logged
    assert project.leftovers() == [], run.describe()


def test_without_a_limit_no_worker_is_recycled(project: Project, tmp_path: Path) -> None:
    run = run_suite(project, ORDINARY)

    assert_all_passed(run, 30)
    assert totals(run.report, "recycles") == 0, run.report["workers"]


def test_max_worker_memory_recycles_a_growing_worker(tmp_path: Path) -> None:
    """A worker grows 70 MB a unit; past 150 MB it is replaced, so none grows without bound.

    The control run without the limit shows the growth: eight units on two workers put at
    least four on one of them, about 4 x 70 MB over its start.
    """
    growing = harness.make_project("sqlite", tmp_path / "limited")
    limited = run_suite(growing, GROWTH, "--max-worker-memory", str(MEMORY_LIMIT_MB))
    control_project = harness.make_project("sqlite", tmp_path / "unlimited")
    control = run_suite(control_project, GROWTH)

    assert_all_passed(limited, GROWTH_UNITS)
    assert_all_passed(control, GROWTH_UNITS)
    workers = limited.report["workers"]
    assert totals(limited.report, "recycles") >= 1, workers
    assert totals(limited.report, "restarts") == 0, workers
    assert totals(control.report, "recycles") == 0, control.report["workers"]
    logged = recycle_lines(limited)
    assert len(logged) == totals(limited.report, "recycles"), logged
    assert all(f"passed {MEMORY_LIMIT_MB} MB" in line for line in logged), logged
    assert recycle_lines(control) == []

    # Recycled once past the limit, a worker never holds much more than the limit plus one
    # unit's growth; without the limit the busiest worker holds several units' worth.
    limited_peak = max(worker["memory_peak_mb"] for worker in workers)
    control_peak = max(worker["memory_peak_mb"] for worker in control.report["workers"])
    assert limited_peak < MEMORY_LIMIT_MB + 2 * GROWTH_MB, workers
    assert control_peak > limited_peak + GROWTH_MB, (limited_peak, control_peak)
    assert growing.leftovers() == [], limited.describe()


FLUSHED = "mishaps.tests.test_flushed_clone"


def test_a_testcase_runs_before_the_flush_on_its_clone_whatever_history_says(
    vendor: str, tmp_path: Path, used_servers: set[str]
) -> None:
    """History says the TransactionTestCase is the longer unit; its clone still runs the
    TestCase first, as serial does, so that the TestCase reads the row a data migration wrote.

    With one worker and ``--max-units-per-worker 1`` the worker is recycled between the two,
    on the same clone: nothing flushed it yet, so no fresh clone is needed.
    """
    if vendor != "sqlite":
        used_servers.add(vendor)
    files = harness.make_project(vendor, tmp_path, sqlite_files=True)
    timings = tmp_path / "timings.json"
    timings.write_text(
        json.dumps(
            {
                "version": 1,
                "units": {
                    f"{FLUSHED}.FlushingTests": {"seconds": 100.0, "setup_seconds": 0.0},
                    f"{FLUSHED}.SeededRowTests": {"seconds": 1.0, "setup_seconds": 0.0},
                },
            }
        )
    )
    run = files.concurrent_test(
        FLUSHED, "--max-units-per-worker", "1", "--timings-file", str(timings), workers=1
    )

    assert run.returncode == 0, run.describe()
    assert_all_passed(run, 2)
    report = run.report
    assert [unit["key"] for unit in report["units"]] == [
        f"{FLUSHED}.SeededRowTests",
        f"{FLUSHED}.FlushingTests",
    ], report["units"]
    assert totals(report, "recycles") == 1, report["workers"]
    assert totals(report, "refreshes") == 0, report["workers"]
    assert files.leftovers() == [], run.describe()
