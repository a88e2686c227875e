"""The JSON report and the end-of-run summary, on run reports built by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from concurrent_test_app.reports import files, summary
from concurrent_test_app.reports.records import (
    CaseRecord,
    RunReport,
    TemplateRecord,
    UnitRecord,
    WorkerRecord,
)

FAIL_TB = (
    "Traceback (most recent call last):\n"
    '  File "/src/app/tests.py", line 12, in test_fail\n'
    "    self.assertEqual(1, 2)\n"
    "AssertionError: 1 != 2\n"
)
DIFF_TB = (
    "Traceback (most recent call last):\n"
    '  File "/src/app/tests.py", line 30, in test_sub\n'
    "    self.assertEqual([1], [2])\n"
    "AssertionError: Lists differ: [1] != [2]\n"
    "\n"
    "First differing element 0:\n"
    "1\n"
    "2\n"
)
ERROR_TB = (
    "Traceback (most recent call last):\n"
    '  File "/src/app/tests.py", line 20, in test_error\n'
    "    raise ValueError('boom')\n"
    "ValueError: boom\n"
)
IMPORT_TB = (
    "ImportError: Failed to import test module: app.test_broken\n"
    "Traceback (most recent call last):\n"
    '  File "/usr/lib/python3.11/unittest/loader.py", line 407, in _find_test_path\n'
    "ModuleNotFoundError: No module named 'missing'\n"
)


def sample_report() -> RunReport:
    """Return a run report holding every outcome and every kind of id unittest reports.

    The summary counts as unittest would for these tests: the failing subtests count once each
    and their parent not at all, the setUpClass error and the failed import are errors, the
    method behind the failed setUpClass never ran.
    """
    tests = [
        CaseRecord("app.tests.A.test_ok", "passed", 0.012, 1, "", "app.tests.A"),
        CaseRecord("app.tests.A.test_fail", "failed", 0.020, 1, FAIL_TB, "app.tests.A"),
        CaseRecord("app.tests.A.test_error", "error", 0.030, 1, ERROR_TB, "app.tests.A"),
        CaseRecord("app.tests.A.test_skip", "skipped", 0.0, 1, "not on Tuesdays", "app.tests.A"),
        CaseRecord("app.tests.A.test_xfail", "expected_failure", 0.004, 1, FAIL_TB, "app.tests.A"),
        CaseRecord("app.tests.A.test_xpass", "unexpected_success", 0.003, 1, "", "app.tests.A"),
        CaseRecord("app.tests.A.test_sub", "error", 0.050, 1, "", "app.tests.A"),
        CaseRecord("app.tests.A.test_sub (i=1)", "failed", 0.0, 1, DIFF_TB, "app.tests.A"),
        CaseRecord("app.tests.A.test_sub [odd] (i=3)", "error", 0.0, 1, ERROR_TB, "app.tests.A"),
        CaseRecord("setUpClass (app.tests.B)", "error", 0.0, 2, ERROR_TB, "app.tests.B"),
        CaseRecord(
            "app.tests.B.test_one", "not_run", 0.0, None, "setUpClass failed", "app.tests.B"
        ),
        CaseRecord(
            "unittest.loader._FailedTest.app.test_broken",
            "error",
            0.001,
            2,
            IMPORT_TB,
            "app.test_broken",
        ),
        CaseRecord("app.tests.C.test_slow", "passed", 3.25, 2, "", "app.tests.C"),
    ]
    summary = {
        "tests_run": 9,
        "passed": 2,
        "failures": 2,
        "errors": 4,
        "skipped": 1,
        "expected_failures": 1,
        "unexpected_successes": 1,
        "not_run": 1,
        "wall_seconds": 10.0,
        "workers": 2,
        "successful": False,
    }
    workers = [
        WorkerRecord(
            1,
            "test_shop_1",
            tests=7,
            units=1,
            busy_seconds=5.0,
            setup_seconds=0.4,
            queries=120,
            memory_peak_mb=88.25,
        ),
        WorkerRecord(
            2,
            "test_shop_2",
            tests=3,
            units=3,
            busy_seconds=9.5,
            setup_seconds=0.6,
            queries=45,
            memory_peak_mb=91.5,
            restarts=1,
        ),
    ]
    templates = [
        TemplateRecord("default", "test_shop_tpl_1a2b3c", "1a2b3c", True, 0.05),
        TemplateRecord("other", "test_other_tpl_4d5e6f", "4d5e6f", False, 2.5),
    ]
    units = [
        UnitRecord("app.tests.A", 1, 0.2, 0.01),
        UnitRecord("app.tests.B", 2, 0.1, 0.1),
        UnitRecord("app.tests.C", 2, 3.3, 1.5),
    ]
    return RunReport(
        summary=summary,
        tests=tests,
        workers=workers,
        templates=templates,
        units=units,
        started_at=1_700_000_000.0,
        finished_at=1_700_000_010.0,
        shard="1/2",
        vendor="postgresql",
        exit_status=1,
    )


def test_json_report_is_the_report_dict(tmp_path: Path) -> None:
    report = sample_report()
    path = tmp_path / "nested" / "report.json"
    files.write_json_report(report, path)
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(report.to_dict()))
    assert set(data) == {
        "summary",
        "tests",
        "workers",
        "templates",
        "units",
        "started_at",
        "finished_at",
        "shard",
        "vendor",
        "exit_status",
        "clone_seconds",
        "split_units",
    }
    assert data["tests"][7] == {
        "id": "app.tests.A.test_sub (i=1)",
        "outcome": "failed",
        "duration": 0.0,
        "worker": 1,
        "message": DIFF_TB,
        "unit": "app.tests.A",
    }
    assert "timeline" not in data["workers"][0]
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_json_report_replaces_an_old_one(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("stale, not json")
    files.write_json_report(sample_report(), path)
    assert json.loads(path.read_text())["summary"]["tests_run"] == 9


def summary_lines(verbosity: int, report: RunReport | None = None) -> list[str]:
    lines: list[str] = []
    summary.print_summary(report or sample_report(), lines.append, verbosity)
    return lines


def test_summary_is_silent_at_verbosity_zero() -> None:
    assert summary_lines(0) == []


def test_summary_lists_utilisation_templates_setup_and_slowest() -> None:
    lines = summary_lines(1)
    text = "\n".join(lines)
    assert lines[0] == "Concurrent run: 9 tests in 10.00s on 2 workers (shard 1/2, postgresql)"
    # busy / wall: 5.0 / 10.0 and 9.5 / 10.0.
    assert any(line.startswith("  worker 1:  50.0%  busy 5.00s of 10.00s") for line in lines)
    assert any(line.startswith("  worker 2:  95.0%  busy 9.50s of 10.00s") for line in lines)
    assert "restarts 1" in text
    assert "  default: test_shop_tpl_1a2b3c [1a2b3c] reused in 0.05s" in lines
    assert "  other: test_other_tpl_4d5e6f [4d5e6f] built in 2.50s" in lines
    # Set-up before the first test: templates (2.55s) and the slowest worker start-up (0.6s).
    assert lines[1].startswith("Set-up: 3.15s before the first test (templates 2.55s")
    assert lines[2] == "Class and module fixtures (setUpClass, setUpModule): 1.61s in all"
    slow_at = lines.index("Slowest 8 tests:")
    assert lines[slow_at + 1] == "     3.250s  app.tests.C.test_slow  [worker 2]"
    assert lines[slow_at + 2] == "     0.050s  app.tests.A.test_sub  [worker 1]"
    listed = lines[slow_at + 1 :]
    assert len(listed) == 8  # the tests that took time: no skip, subtest or never-run entry
    assert not any("test_one" in line or "(i=1)" in line or "test_skip" in line for line in listed)


def test_summary_shows_more_at_higher_verbosity() -> None:
    report = sample_report()
    report.tests = [
        CaseRecord(f"app.tests.D.test_{n:02d}", "passed", n / 100, 1) for n in range(1, 31)
    ]
    at_1 = summary_lines(1, report)
    at_2 = summary_lines(2, report)
    assert "Slowest 10 tests:" in at_1 and "Slowest 25 tests:" in at_2
    assert at_1[at_1.index("Slowest 10 tests:") + 1].endswith("app.tests.D.test_30  [worker 1]")
    assert at_1[-1].endswith("app.tests.D.test_21  [worker 1]")
    assert not any("(test_shop_2)" in line for line in at_1)
    assert any("(test_shop_2)" in line for line in at_2)


def test_summary_of_an_empty_run() -> None:
    report = sample_report()
    report.tests, report.workers, report.templates, report.units = [], [], [], []
    lines = summary_lines(1, report)
    assert len(lines) == 3
    assert lines[1].startswith("Set-up: 0.00s")


def test_minutes_in_the_summary() -> None:
    report = sample_report()
    report.summary["wall_seconds"] = 125.5
    assert summary_lines(1, report)[0].startswith("Concurrent run: 9 tests in 2m05.5s")


def test_json_lines_reads_back_as_the_document_one_line_per_item() -> None:
    document = {
        "summary": {"passed": 2, "wall_seconds": 0.5},
        "tests": [{"id": "a.B.test_one", "message": "line\nbreak"}, {"id": "a.B.test_two"}],
        "empty": [],
        "shard": None,
    }
    text = files.json_lines(document)
    assert json.loads(text) == document
    # Each test is one compact line: a reader can grep or diff a report line by line.
    assert '    {"id": "a.B.test_one", "message": "line\\nbreak"},' in text.splitlines()
    ordered = files.json_lines({"b": {"y": 1, "x": 2}, "a": 1}, sort_keys=True)
    assert ordered.splitlines()[1:5] == ['  "a": 1,', '  "b": {', '    "x": 2,', '    "y": 1']


def test_json_lines_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="JSON"):
        files.json_lines({"seconds": float("nan")})
