"""Issue 6, "Done when": a suite with a crash, a segfault, a hang, 1.5 GB and a stray thread.

The fixture project's ``test_faults`` module holds a test that calls ``os._exit(3)``, one that
segfaults (ctypes), one that sleeps for an hour, one that holds 1.5 GB for two seconds and one
that leaves a thread running, each followed in its class by a healthy test; ``test_ordinary``
holds 30 ordinary tests (TestCase with writes, and SimpleTestCase). With ``--workers 2
--timeout-per-test 5`` the run must report each of the three faults as an error naming its
cause (the hang ended by the 5 s limit, not after an hour), pass everything else, exit 1, and
leave no test database behind.

Nothing here depends on the machine's load: the memory test, whose 1.5 GB take 1 to 5 s to
allocate on a loaded 2-core machine, has its own ``@timeout``, and no wall time is asserted.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import Project, fixture_files, left_running, make_project

project = harness.project
used_servers = harness.used_servers

LABELS = ("mishaps.tests.test_faults", "mishaps.tests.test_ordinary")
FAULTS = "mishaps.tests.test_faults."
EXIT_TEST = f"{FAULTS}ExitTests.test_a_exits_with_code_3"
SEGFAULT_TEST = f"{FAULTS}SegfaultTests.test_a_segfaults"
HANG_TEST = f"{FAULTS}HangTests.test_a_sleeps_for_an_hour"
MEMORY_TEST = f"{FAULTS}MemoryTests.test_holds_one_and_a_half_gigabytes"
THREAD_TEST = f"{FAULTS}ThreadTests.test_leaves_a_thread_running"
AFTER_FAULTS = (
    f"{FAULTS}ExitTests.test_b_runs_on_a_fresh_clone",
    f"{FAULTS}SegfaultTests.test_b_runs_after_the_segfault",
    f"{FAULTS}HangTests.test_b_runs_after_the_hang",
)
ORDINARY_CLASSES = ("WritingA", "WritingB", "WritingC", "PlainA", "PlainB", "PlainC")
ORDINARY_METHODS = {
    "Writing": ("test_one", "test_two", "test_three", "test_update", "test_delete"),
    "Plain": ("test_arithmetic", "test_strings", "test_lists", "test_dicts", "test_sets"),
}
ORDINARY = tuple(
    f"mishaps.tests.test_ordinary.{cls}.{method}"
    for cls in ORDINARY_CLASSES
    for method in ORDINARY_METHODS[cls[:-1]]
)
EXPECTED_RAN = 30 + 5 + len(AFTER_FAULTS)


def expected_causes() -> dict[str, re.Pattern[str]]:
    """Return, per faulty test, what its error message must say about the cause."""
    return {
        EXIT_TEST: re.compile(r"died with exit code 3 \(peak memory \d+ MB\)"),
        SEGFAULT_TEST: re.compile(r"died with signal SIGSEGV \(peak memory \d+ MB\)"),
        HANG_TEST: re.compile(r"timed out after 5 s"),
    }


def test_fault_suite_finishes_with_each_fault_named_and_nothing_left(
    project: Project, tmp_path: Path
) -> None:
    check_fault_suite(project, tmp_path)


def test_fault_suite_on_sqlite_database_files(tmp_path: Path) -> None:
    """The same on SQLite test database files, where every clone is a file to clean up."""
    check_fault_suite(make_project("sqlite", tmp_path, sqlite_files=True), tmp_path)


def check_fault_suite(project: Project, tmp_path: Path) -> None:
    """Run the fault suite on ``project`` and assert everything issue 6 asks of it."""
    files_before = fixture_files()
    report = tmp_path / "report.json"

    run = project.manage(
        "concurrent_test",
        *LABELS,
        "--noinput",
        "--workers",
        "2",
        "--timeout-per-test",
        "5",
        "--no-progress",
        "--json-report",
        str(report),
        timeout=300,
    )

    assert run.returncode == 1, run.describe()
    assert "Traceback (most recent call last)" not in run.stdout, run.describe()
    assert run.report, f"no JSON report\n{run.describe()}"

    outcomes, messages = run.outcomes, run.messages
    problems = []
    for test_id, cause in expected_causes().items():
        if outcomes.get(test_id) != "error":
            problems.append(f"{test_id}: expected error, got {outcomes.get(test_id)}")
        elif not cause.search(messages[test_id]):
            problems.append(f"{test_id}: message lacks {cause.pattern!r}: {messages[test_id]!r}")
    for test_id in (MEMORY_TEST, THREAD_TEST, *AFTER_FAULTS, *ORDINARY):
        if outcomes.get(test_id) != "passed":
            problems.append(
                f"{test_id}: expected passed, got {outcomes.get(test_id)}: "
                f"{messages.get(test_id, '')[:300]!r}"
            )
    unexpected = sorted(
        set(outcomes)
        - set(expected_causes())
        - {MEMORY_TEST, THREAD_TEST}
        - set(AFTER_FAULTS)
        - set(ORDINARY)
    )
    if unexpected:
        problems.append(f"ids nobody expected: {unexpected}")
    assert not problems, "\n".join(problems) + "\n" + run.describe()

    # The hang's error carries the stack of every thread, which shows where it hung.
    hang = messages[HANG_TEST]
    assert "Stack of every thread" in hang and "test_a_sleeps_for_an_hour" in hang, hang

    summary = run.report["summary"]
    assert summary["tests_run"] == EXPECTED_RAN, summary
    assert (summary["errors"], summary["failures"], summary["not_run"]) == (3, 0, 0), summary
    assert summary["passed"] == EXPECTED_RAN - 3, summary
    assert f"Ran {EXPECTED_RAN} tests in " in run.stderr, run.describe()
    assert "FAILED (errors=3)" in run.stderr, run.describe()
    # Each fault cost its worker: three replacements in all, none past the cap.
    assert sum(worker["restarts"] for worker in run.report["workers"]) == 3, run.report["workers"]

    assert project.leftovers() == [], run.describe()
    assert left_running(run.marker) == [], run.describe()
    assert project.templates(), "the template is kept for the next run"
    assert fixture_files() == files_before


def test_leftover_check_sees_kept_clones(
    vendor: str, tmp_path: Path, used_servers: set[str]
) -> None:
    """The leftover check is not vacuous: clones kept with --keepdb are what it must report."""
    if vendor != "sqlite":
        used_servers.add(vendor)
    kept = make_project(vendor, tmp_path, suffix="k", sqlite_files=True)
    run = kept.manage(
        "concurrent_test",
        "mishaps.tests.test_ordinary.WritingA",
        "mishaps.tests.test_ordinary.WritingB",
        "--noinput",
        "--workers",
        "2",
        "--keepdb",
        "--no-progress",
        "--no-history",
    )
    try:
        assert run.returncode == 0, run.describe()
        clones = [entry for entry in kept.leftovers() if re.search(r"_w[12]_", entry)]
        assert len(clones) == 2, kept.leftovers()
        assert kept.templates(), "the template is kept and is not a leftover"
    finally:
        if vendor != "sqlite":
            kept.drop_server_databases()
