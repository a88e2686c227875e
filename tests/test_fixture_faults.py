"""Issue 12, point 1: a worker lost outside a test method is an error under a stable id.

``mishaps.tests.outside`` ends its worker in setUpClass, tearDownClass, setUpModule and
tearDownModule, by ``os._exit(3)``, by SIGSEGV and by hanging (ended by ``--timeout-per-test``),
in the class fixtures of a module unit, and right after a unit (between units); the settings
make the first worker die while it starts. Every fault happens at a fixed point of the run,
selected by the environment, so nothing races a clock: the hangs wait forever and the
assertions are about the entries, never about how long anything took.

One run per vendor holds every fault: each kills only its own worker, so they cannot disturb
one another. Each must be one error under serial's pseudo-id (or the pool's own for between
units and start-up) that names its cause; the tests of a failed set-up are ``not_run``, as in
serial; every other test passes; the pseudo-entries never count in "Ran N tests"; the exit
status is 1; the JSON report, JUnit XML and timing history all hold the entries.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import (
    Project,
    Run,
    create_real_database,
    left_running,
    make_project,
)

project = harness.project
used_servers = harness.used_servers

OUTSIDE = "mishaps.tests.outside"
CLASSES = f"{OUTSIDE}.test_class_fixtures"
STRETCH = f"{OUTSIDE}.test_module_stretch"
BETWEEN = f"{OUTSIDE}.test_between_units"
HEALTHY = ("test_one", "test_two")
KINDS = ("exit", "segv", "hang")
# The per-test limit that ends the hangs. The healthy tests and fixtures take milliseconds,
# so they are nowhere near it even on a loaded machine.
TIMEOUT = 5
CAUSE = {
    "exit": r"died with exit code 3\b",
    "segv": r"died with signal SIGSEGV\b",
    "hang": rf"timed out after {TIMEOUT} s .*--timeout-per-test",
}


def ids_of(cls: str, *methods: str) -> list[str]:
    return [f"{cls}.{method}" for method in methods or HEALTHY]


def expectations() -> tuple[dict[str, str], set[str], set[str]]:
    """Return the expected errors (id -> cause pattern), the not_run ids and the passed ids."""
    errors: dict[str, str] = {}
    not_run: set[str] = set()
    passed: set[str] = set(ids_of(f"{CLASSES}.NeighbourTests"))
    for kind in KINDS:
        title = kind.capitalize()
        set_up = f"{CLASSES}.SetUpClass{title}Tests"
        errors[f"setUpClass ({set_up})"] = CAUSE[kind]
        not_run.update(ids_of(set_up))
        tear_down = f"{CLASSES}.TearDownClass{title}Tests"
        errors[f"tearDownClass ({tear_down})"] = CAUSE[kind]
        passed.update(ids_of(tear_down))
        module = f"{OUTSIDE}.test_module_setup_{kind}"
        errors[f"setUpModule ({module})"] = CAUSE[kind]
        not_run.update(ids_of(f"{module}.ModuleSetUp{title}Tests"))
        module = f"{OUTSIDE}.test_module_teardown_{kind}"
        errors[f"tearDownModule ({module})"] = CAUSE[kind]
        passed.update(ids_of(f"{module}.ModuleTearDown{title}Tests"))
    # One module unit: the first class's tearDownClass exits, the second's setUpClass segfaults.
    errors[f"tearDownClass ({STRETCH}.AFirstTests)"] = CAUSE["exit"]
    passed.update(ids_of(f"{STRETCH}.AFirstTests"))
    errors[f"setUpClass ({STRETCH}.BSecondTests)"] = CAUSE["segv"]
    not_run.update(ids_of(f"{STRETCH}.BSecondTests"))
    passed.update(ids_of(f"{STRETCH}.CThirdTests"))
    for kind in ("exit", "segv"):
        passed.update(
            ids_of(
                f"{BETWEEN}.BetweenUnits{kind.capitalize()}Tests",
                *HEALTHY,
                "test_three_arms_the_fault",
            )
        )
    return errors, not_run, passed


BETWEEN_UNITS = re.compile(r"^concurrent_test \(worker \d+: between units\)$")
START_UP = re.compile(r"^concurrent_test \(worker \d+: start-up\)$")


def test_every_fault_outside_a_test_is_an_error_under_a_stable_id(
    project: Project, tmp_path: Path
) -> None:
    if project.vendor != "sqlite":
        create_real_database(project.vendor, project.database)
    migrated = project.manage("migrate", "-v", "0")
    assert migrated.returncode == 0, migrated.describe()
    marker = tmp_path / "die-at-start-up"
    marker.touch()
    junit = tmp_path / "junit.xml"

    run = project.manage(
        "concurrent_test",
        OUTSIDE,
        "--noinput",
        "--workers",
        "2",
        "--timeout-per-test",
        str(TIMEOUT),
        "--max-restarts",
        "40",
        "--no-progress",
        "--json-report",
        str(tmp_path / "report.json"),
        "--junit-xml",
        str(junit),
        env={"FAULTS_OUTSIDE": "all", "FAULTS_STARTUP_MARKER": str(marker)},
        timeout=600,
    )

    assert run.returncode == 1, run.describe()
    assert run.report, f"no JSON report\n{run.describe()}"
    assert not marker.exists(), "no worker died while starting"
    errors, not_run, passed = expectations()
    problems = check_entries(run, errors, not_run, passed)
    assert not problems, "\n".join(problems) + "\n" + run.describe()

    # Each hang's error carries the worker's stacks, which show where it hung.
    for test_id in errors:
        if "Hang" in test_id or test_id.endswith("_hang)"):
            message = run.messages[test_id]
            assert "Stack of every thread" in message and "outside.py" in message, message

    ran = len(passed)
    error_count = len(errors) + 3  # two deaths between units and one at start-up
    summary = run.report["summary"]
    assert summary["tests_run"] == summary["passed"] == ran, summary
    assert (summary["errors"], summary["failures"]) == (error_count, 0), summary
    assert summary["not_run"] == len(not_run), summary
    assert summary["successful"] is False and run.report["exit_status"] == 1, summary
    assert f"Ran {ran} tests in " in run.stderr, run.describe()
    assert f"FAILED (errors={error_count})" in run.stderr, run.describe()
    # Every lost worker is replaced while work is left; one lost at the very end is not.
    restarts = sum(worker["restarts"] for worker in run.report["workers"])
    assert 0 < restarts <= error_count, run.report["workers"]

    check_junit(junit, run)
    check_history(project, run)
    assert project.leftovers() == [], run.describe()
    assert left_running(run.marker) == [], run.describe()


def check_entries(
    run: Run, errors: dict[str, str], not_run: set[str], passed: set[str]
) -> list[str]:
    """Return what is wrong with the report's entries, one line per problem."""
    outcomes, messages = run.outcomes, run.messages
    problems = []
    for test_id, cause in errors.items():
        if outcomes.get(test_id) != "error":
            problems.append(f"{test_id}: expected error, got {outcomes.get(test_id)}")
        elif not re.search(cause, messages[test_id], re.S):
            problems.append(f"{test_id}: message lacks {cause!r}: {messages[test_id][:400]!r}")
    for expected, ids in (("not_run", not_run), ("passed", passed)):
        for test_id in sorted(ids):
            if outcomes.get(test_id) != expected:
                problems.append(
                    f"{test_id}: expected {expected}, got {outcomes.get(test_id)}: "
                    f"{messages.get(test_id, '')[:300]!r}"
                )
    between = sorted(i for i in outcomes if BETWEEN_UNITS.match(i))
    between_messages = [messages[i] for i in between]
    for kind in ("exit", "segv"):
        if not any(re.search(rf"{CAUSE[kind]}.* between units", m) for m in between_messages):
            problems.append(f"no between-units error for {kind}: {between_messages}")
    # Two deaths between units; when both befall the same slot, they share its entry (its
    # message holds both) as any id unittest reports twice does, while `errors` counts two.
    entries = [entry for entry in run.report["tests"] if BETWEEN_UNITS.match(entry["id"])]
    if not 1 <= len(entries) <= 2 or any(e["outcome"] != "error" for e in entries):
        problems.append(f"expected the between-units errors of one or two slots: {entries}")
    start_up = [entry for entry in run.report["tests"] if START_UP.match(entry["id"])]
    if len(start_up) != 1 or not re.search(
        rf"{CAUSE['exit']}.* while starting", start_up[0]["message"]
    ):
        problems.append(f"expected one start-up error naming exit code 3: {start_up}")
    known = set(errors) | not_run | passed | set(between) | {e["id"] for e in start_up}
    unexpected = sorted(set(outcomes) - known)
    if unexpected:
        problems.append(f"ids nobody expected: {unexpected}")
    return problems


def check_junit(path: Path, run: Run) -> None:
    """Every pseudo-entry is a testcase with an <error>, named as the README says."""
    cases = {
        (case.get("classname"), case.get("name")): case
        for case in ET.parse(path).getroot().iter("testcase")
    }
    expected = [
        (f"{CLASSES}.SetUpClassExitTests", "setUpClass"),
        (f"{CLASSES}.TearDownClassSegvTests", "tearDownClass"),
        (f"{OUTSIDE}.test_module_setup_hang", "setUpModule"),
        (f"{OUTSIDE}.test_module_teardown_exit", "tearDownModule"),
    ]
    for test_id in run.outcomes:
        match = re.match(r"^concurrent_test \((worker \d+: [a-z -]+)\)$", test_id)
        if match:
            expected.append(("concurrent_test", match[1]))
    for key in expected:
        assert key in cases, (key, sorted(k for k in cases if k[0] == key[0]))
        assert cases[key].find("error") is not None, ET.tostring(cases[key])
    # One testcase per entry (two errors under one id are one testcase, as the README says).
    error_entries = sum(1 for entry in run.report["tests"] if entry["outcome"] == "error")
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == str(error_entries)


def check_history(project: Project, run: Run) -> None:
    """The timing history holds the pseudo-entries of the run as errors."""
    shell = project.manage(
        "shell",
        "-c",
        "import json; from concurrent_test_app.models import CaseResult; "
        "print(json.dumps({r.case.test_id: r.outcome for r in "
        "CaseResult.objects.select_related('case').order_by('-run_id')[:500]}))",
    )
    assert shell.returncode == 0, shell.describe()
    recorded = json.loads(shell.stdout.strip().splitlines()[-1])
    pseudo = [i for i, outcome in run.outcomes.items() if " (" in i and outcome == "error"]
    assert pseudo, run.outcomes
    assert {i: recorded.get(i) for i in pseudo} == dict.fromkeys(pseudo, "error"), recorded


def test_a_hang_in_tear_down_module_is_ended_by_the_per_worker_limit(tmp_path: Path) -> None:
    """Without a per-test limit, --timeout-per-worker ends a hung tearDownModule."""
    sqlite = make_project("sqlite", tmp_path)
    module = f"{OUTSIDE}.test_module_teardown_hang"
    run = sqlite.concurrent_test(
        module,
        "--timeout-per-test",
        "0",
        "--timeout-per-worker",
        str(TIMEOUT),
        workers=1,
        env={"FAULTS_OUTSIDE": "tearDownModule:hang"},
    )
    assert run.returncode == 1, run.describe()
    message = run.messages.get(f"tearDownModule ({module})", "")
    assert re.search(rf"Work unit timed out after {TIMEOUT} s .*--timeout-per-worker", message), (
        run.describe()
    )
    assert "Stack of every thread" in message, message
    assert run.report["summary"]["tests_run"] == run.report["summary"]["passed"] == 2
    assert "Ran 2 tests in " in run.stderr and "FAILED (errors=1)" in run.stderr, run.describe()


@pytest.mark.parametrize("kind", ["exit", "segv"])
def test_tests_abandoned_at_the_restart_cap_are_errors(tmp_path: Path, kind: str) -> None:
    """With one worker and one restart, a second death leaves the rest to the cap's errors."""
    sqlite = make_project("sqlite", tmp_path)
    title = kind.capitalize()
    run = sqlite.concurrent_test(
        f"{CLASSES}.SetUpClass{title}Tests",
        f"{OUTSIDE}.test_module_setup_{kind}",
        f"{CLASSES}.NeighbourTests",
        "--max-restarts",
        "1",
        "--scheduler",
        "discovery",
        workers=1,
        env={"FAULTS_OUTSIDE": f"setUpClass:{kind},setUpModule:{kind}"},
    )

    assert run.returncode == 1, run.describe()
    outcomes, messages = run.outcomes, run.messages
    assert outcomes[f"setUpClass ({CLASSES}.SetUpClass{title}Tests)"] == "error", outcomes
    assert outcomes[f"setUpModule ({OUTSIDE}.test_module_setup_{kind})"] == "error", outcomes
    for test_id in ids_of(f"{CLASSES}.NeighbourTests"):
        assert outcomes[test_id] == "error", run.describe()
        assert "--max-restarts" in messages[test_id], messages[test_id]
        assert "DJANGO_TEST_MAX_WORKER_RESTARTS" in messages[test_id], messages[test_id]
    summary = run.report["summary"]
    assert (summary["errors"], summary["not_run"], summary["passed"]) == (4, 4, 0), summary
    assert "FAILED (errors=4)" in run.stderr, run.describe()
