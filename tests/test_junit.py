"""JUnit XML: read back with junitparser, its counts equal the JSON report's."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from concurrent_test_app.reports import files, junit
from concurrent_test_app.reports.junit import junit_name
from concurrent_test_app.reports.records import CaseRecord

from .test_reporting import DIFF_TB, ERROR_TB, FAIL_TB, sample_report


def read_back(path: Path) -> tuple[JUnitXml, list[object]]:
    xml = JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    return xml, cases


def kinds(cases: list[object]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for case in cases:
        for result in case.result:  # type: ignore[attr-defined]
            counts[type(result).__name__] += 1
    return counts


def test_counts_equal_the_json_report(tmp_path: Path) -> None:
    report = sample_report()
    files.write_json_report(report, tmp_path / "report.json")
    junit.write_junit_xml(report, tmp_path / "junit.xml")
    summary = json.loads((tmp_path / "report.json").read_text())["summary"]

    xml, cases = read_back(tmp_path / "junit.xml")
    counted = kinds(cases)
    # unittest's counts: a failing subtest is one failure, its parent none; an unexpected
    # success fails the run; expected failures and tests that never ran are skipped.
    assert counted["Failure"] == summary["failures"] + summary["unexpected_successes"]
    assert counted["Error"] == summary["errors"]
    assert counted["Skipped"] == (
        summary["skipped"] + summary["expected_failures"] + summary["not_run"]
    )
    # One testcase per entry of the JSON report's tests, but the subtest parent.
    tests = json.loads((tmp_path / "report.json").read_text())["tests"]
    assert len(cases) == len(tests) - 1
    passed = [case for case in cases if not case.result]  # type: ignore[attr-defined]
    assert len(passed) == summary["passed"]

    # The declared totals agree with the testcases, on the suite and on the root.
    (suite,) = list(xml)
    for element in (suite, xml):
        assert element.tests == len(cases)
        assert element.failures == counted["Failure"]
        assert element.errors == counted["Error"]
        assert element.skipped == counted["Skipped"]
    assert suite.time == pytest.approx(10.0)
    assert suite.name == "concurrent_test shard 1/2"


def test_testcase_names_messages_and_tracebacks(tmp_path: Path) -> None:
    junit.write_junit_xml(sample_report(), tmp_path / "junit.xml")
    _, cases = read_back(tmp_path / "junit.xml")
    by_name = {(c.classname, c.name): c for c in cases}  # type: ignore[attr-defined]

    ok = by_name[("app.tests.A", "test_ok")]
    assert ok.result == [] and ok.time == pytest.approx(0.012)

    (failure,) = by_name[("app.tests.A", "test_fail")].result
    assert isinstance(failure, Failure)
    assert failure.message == "1 != 2" and failure.type == "AssertionError"
    assert failure.text == FAIL_TB

    (error,) = by_name[("app.tests.A", "test_error")].result
    assert isinstance(error, Error)
    assert (error.type, error.message, error.text) == ("ValueError", "boom", ERROR_TB)

    (sub,) = by_name[("app.tests.A", "test_sub (i=1)")].result
    assert isinstance(sub, Failure)
    assert sub.message == "Lists differ: [1] != [2]" and sub.text == DIFF_TB
    (sub_err,) = by_name[("app.tests.A", "test_sub [odd] (i=3)")].result
    assert isinstance(sub_err, Error)
    assert ("app.tests.A", "test_sub") not in by_name

    (skip,) = by_name[("app.tests.A", "test_skip")].result
    assert isinstance(skip, Skipped) and skip.message == "not on Tuesdays"
    (xfail,) = by_name[("app.tests.A", "test_xfail")].result
    assert isinstance(xfail, Skipped) and xfail.message == "expected failure"
    assert xfail.text == FAIL_TB
    (xpass,) = by_name[("app.tests.A", "test_xpass")].result
    assert isinstance(xpass, Failure) and xpass.message == "unexpected success"

    (setup,) = by_name[("app.tests.B", "setUpClass")].result
    assert isinstance(setup, Error) and setup.text == ERROR_TB
    (never,) = by_name[("app.tests.B", "test_one")].result
    assert isinstance(never, Skipped) and never.message == "setUpClass failed"
    assert never.type == "not_run"

    (broken,) = by_name[("app.test_broken", "(failed to load)")].result
    assert isinstance(broken, Error)
    assert broken.type == "ModuleNotFoundError"
    assert broken.message == "No module named 'missing'"


@pytest.mark.parametrize(
    ("test_id", "classname", "name"),
    [
        ("pkg.mod.Class.test_x", "pkg.mod.Class", "test_x"),
        ("pkg.mod.Class.test_x (i=1)", "pkg.mod.Class", "test_x (i=1)"),
        (
            "pkg.mod.Class.test_x [msg with spaces] (a=1, b='x y')",
            "pkg.mod.Class",
            "test_x [msg with spaces] (a=1, b='x y')",
        ),
        ("setUpClass (pkg.mod.Class)", "pkg.mod.Class", "setUpClass"),
        ("tearDownClass (pkg.mod.Class)", "pkg.mod.Class", "tearDownClass"),
        ("setUpModule (pkg.mod)", "pkg.mod", "setUpModule"),
        ("tearDownModule (pkg.mod)", "pkg.mod", "tearDownModule"),
        ("unittest.loader._FailedTest.pkg.mod", "pkg.mod", "(failed to load)"),
        ("unittest.loader._FailedTest.no_such_label", "no_such_label", "(failed to load)"),
        ("doctest_only", "doctest_only", "doctest_only"),
        (
            "concurrent_test (worker 2: between units)",
            "concurrent_test",
            "worker 2: between units",
        ),
        ("concurrent_test (worker 1: start-up)", "concurrent_test", "worker 1: start-up"),
    ],
)
def test_junit_names(test_id: str, classname: str, name: str) -> None:
    assert junit_name(test_id) == junit.JUnitName(classname, name)


def test_characters_xml_cannot_hold_are_escaped(tmp_path: Path) -> None:
    report = sample_report()
    nasty = "Traceback (most recent call last):\nAssertionError: b'\x00\x1b[31m' != '\ud800'\n"
    report.tests = [CaseRecord("app.tests.A.test_bytes", "failed", 0.1, 1, nasty)]
    path = tmp_path / "junit.xml"
    junit.write_junit_xml(report, path)
    ET.parse(path)  # a stray control character would make this raise
    _, cases = read_back(path)
    (failure,) = cases[0].result  # type: ignore[attr-defined]
    assert "\\x00\\x1b[31m" in failure.text and "\\ud800" in failure.text


def test_an_empty_run_is_valid(tmp_path: Path) -> None:
    report = sample_report()
    report.tests = []
    junit.write_junit_xml(report, tmp_path / "junit.xml")
    xml, cases = read_back(tmp_path / "junit.xml")
    assert cases == [] and xml.tests == 0


def test_the_form_ci_reporters_read(tmp_path: Path) -> None:
    """Root <testsuites>, one <testsuite> with totals, <testcase> with the three attributes."""
    path = tmp_path / "junit.xml"
    junit.write_junit_xml(sample_report(), path)
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for attribute in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
        assert suite.get(attribute), attribute
    properties = {p.get("name"): p.get("value") for p in suite.iterfind("properties/property")}
    assert properties == {
        "workers": "2",
        "shard": "1/2",
        "vendor": "postgresql",
        "exit_status": "1",
    }
    for case in suite.iter("testcase"):
        assert case.get("classname") and case.get("name")
        assert float(case.get("time", "x")) >= 0
        children = [child.tag for child in case]
        if "properties" in children:
            assert children.index("properties") == 0
            children.remove("properties")
        assert len(children) <= 1 and set(children) <= {"failure", "error", "skipped"}
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                assert child.get("message"), (case.get("name"), child.tag)
