"""The fidelity comparison itself: it must notice every kind of difference, and only those."""

from __future__ import annotations

import copy
from typing import Any

from tests.test_fidelity import SuiteRun, final_lines, mismatches

FAILED_LINE = "FAILED (failures=1, errors=1, skipped=1)"


def entry(test_id: str, outcome: str, message: str = "", **extra: Any) -> dict[str, Any]:
    return {"id": test_id, "outcome": outcome, "message": message, **extra}


def serial_run() -> SuiteRun:
    tests = [
        entry("app.tests.T.test_ok", "passed"),
        entry("app.tests.T.test_fail", "failed", "Traceback...\nAssertionError: 1 != 2"),
        entry(
            "app.tests.T.test_lock",
            "error",
            "Traceback...\nValueError: ('x', <unlocked _thread.lock object at 0x7f1234>)",
        ),
        entry("app.tests.T.test_skip", "skipped", "not today"),
        entry("setUpClass (app.tests.U)", "error", "Traceback...\nRuntimeError: boom"),
        entry("app.tests.U.test_one", "not_run"),
    ]
    summary = {
        "tests_run": 4,
        "passed": 1,
        "failures": 1,
        "errors": 2,
        "skipped": 1,
        "expected_failures": 0,
        "unexpected_successes": 0,
        "not_run": 1,
    }
    return SuiteRun("serial", 1, "", "Ran 4 tests", FAILED_LINE, summary, tests)


def concurrent_twin(serial: SuiteRun) -> SuiteRun:
    """Return what a faithful concurrent run of ``serial`` reports."""
    tests = []
    for item in copy.deepcopy(serial.tests):
        worker = None if item["outcome"] == "not_run" else 2
        message = item["message"].replace("0x7f1234", "0x7fabcd")  # another process
        tests.append({**item, "message": message, "duration": 0.01, "worker": worker})
    summary = {**serial.summary, "wall_seconds": 1.0, "workers": 2, "successful": False}
    return SuiteRun("concurrent", serial.returncode, "", serial.ran, serial.verdict, summary, tests)


def test_a_faithful_run_has_no_mismatch() -> None:
    serial = serial_run()
    assert mismatches(serial, concurrent_twin(serial)) == []


def test_every_kind_of_difference_is_reported() -> None:
    serial = serial_run()
    twin = concurrent_twin(serial)
    twin.returncode = 0
    twin.verdict = "FAILED (failures=1, errors=1)"
    twin.summary["skipped"] = 0
    twin.summary["successful"] = True
    by_id = {item["id"]: item for item in twin.tests}
    by_id["app.tests.T.test_fail"]["outcome"] = "passed"
    by_id["app.tests.T.test_lock"]["message"] = "Traceback...\nPicklingError: cannot pickle"
    by_id["app.tests.T.test_skip"]["message"] = "skipped"
    by_id["app.tests.T.test_ok"]["duration"] = None
    twin.tests.remove(by_id["app.tests.U.test_one"])
    twin.tests.append(entry("app.tests.T.test_ok", "passed", duration=0.0, worker=1))
    twin.tests.append(entry("app.tests.V.test_new", "passed", duration=0.0, worker=1))

    problems = "\n".join(mismatches(serial, twin))

    assert "exit status: expected 1, got 0" in problems
    assert "final lines:" in problems
    assert "app.tests.T.test_fail: expected failed, got passed" in problems
    assert "app.tests.U.test_one: expected not_run, got (absent)" in problems
    assert "app.tests.V.test_new: expected (absent), got passed" in problems
    assert "listed more than once" in problems and "app.tests.T.test_ok" in problems
    assert "summary['skipped']: expected 1, got 0" in problems
    assert "summary['successful']: expected False, got True" in problems
    assert "app.tests.T.test_lock: traceback lacks" in problems
    assert "app.tests.T.test_skip: skip reason 'not today', got 'skipped'" in problems
    assert "app.tests.T.test_ok: bad duration" in problems


def test_a_missing_report_is_a_mismatch() -> None:
    serial = serial_run()
    twin = concurrent_twin(serial)
    twin.tests = []
    assert "the JSON report has no tests (or was not written)" in mismatches(serial, twin)


def test_final_lines_ignore_the_time_and_what_follows() -> None:
    output = (
        "....\n----------------------------------------------------------------------\n"
        "Ran 4 tests in 0.123s\n\nFAILED (failures=1)\n"
        "Destroying test database for alias 'default'...\n"
    )
    assert final_lines(output) == ("Ran 4 tests", "FAILED (failures=1)")
    assert final_lines("Ran 1 test in 10.000s\n\nOK\n") == ("Ran 1 test", "OK")
    assert final_lines("Traceback (most recent call last):\n...") == (None, None)
