"""JUnit XML from the run's record: one testcase per id unittest reports."""

from __future__ import annotations

import logging
import re
import socket
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from concurrent_test_app.reports.files import write_atomic
from concurrent_test_app.reports.records import CaseRecord, RunReport

logger = logging.getLogger(__name__)

# unittest names a class- or module-level event "<hook> (<class or module>)".
_HOOK_ID = re.compile(
    r"^(?P<hook>setUpClass|tearDownClass|setUpModule|tearDownModule|doClassCleanups"
    r"|doModuleCleanups) \((?P<owner>[^()]+)\)$"
)
# The pool's own pseudo-id for a worker lost outside any unit (supervision.BETWEEN_UNITS_ID).
_POOL_ID = re.compile(r"^(?P<owner>concurrent_test) \((?P<name>worker \d+: [^()]+)\)$")
_FAILED_LOAD_PREFIX = "unittest.loader._FailedTest."
FAILED_LOAD_NAME = "(failed to load)"

# Characters XML 1.0 cannot carry at all, even escaped: C0 controls but tab, newline and
# carriage return; lone surrogates; U+FFFE and U+FFFF. A traceback can hold any of them (a
# test comparing bytes, colourised output), and one of them makes the whole file unreadable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# JUnit's four verdicts, and which of the report's outcomes falls under each. An expected
# failure is reported as skipped (as pytest does for xfail); an unexpected success fails the
# run in unittest (and so in Django's serial runner), so it is a failure here too.
JUNIT_KIND = {
    "passed": None,
    "failed": "failure",
    "unexpected_success": "failure",
    "error": "error",
    "skipped": "skipped",
    "expected_failure": "skipped",
    "not_run": "skipped",
}


@dataclass(frozen=True)
class JUnitName:
    """Where a test id lands in JUnit: the ``classname`` and ``name`` attributes."""

    classname: str
    name: str


def junit_name(test_id: str) -> JUnitName:
    """Split a unittest id into JUnit's classname and name.

    ``pkg.mod.Class.test_x`` gives (``pkg.mod.Class``, ``test_x``); a subtest
    ``pkg.mod.Class.test_x (i=1)`` keeps its parameters in the name; a class- or module-level
    pseudo-test ``setUpClass (pkg.mod.Class)`` gives (``pkg.mod.Class``, ``setUpClass``); a
    module that failed to import, ``unittest.loader._FailedTest.pkg.mod``, gives
    (``pkg.mod``, ``(failed to load)``); the pool's ``concurrent_test (worker 2: between
    units)`` gives (``concurrent_test``, ``worker 2: between units``).
    """
    hook = _HOOK_ID.match(test_id)
    if hook:
        return JUnitName(hook["owner"], hook["hook"])
    pool = _POOL_ID.match(test_id)
    if pool:
        return JUnitName(pool["owner"], pool["name"])
    if test_id.startswith(_FAILED_LOAD_PREFIX):
        return JUnitName(test_id[len(_FAILED_LOAD_PREFIX) :], FAILED_LOAD_NAME)
    # A subtest's id is its parent's id, a space, then "[msg]" and/or "(params)".
    head, space, tail = test_id.partition(" ")
    classname, dot, method = head.rpartition(".")
    if not dot:
        classname, method = head, head
    return JUnitName(classname, f"{method}{space}{tail}")


def _xml_text(text: str) -> str:
    """Return ``text`` with the characters XML 1.0 cannot hold shown as escapes."""
    return _XML_INVALID.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _exception_line(traceback_text: str) -> tuple[str, str]:
    """Return (exception type, first line of its message) from a formatted traceback.

    The exception line is the first unindented line after the last ``Traceback`` header (the
    frames between are indented); a multi-line message such as an assertEqual diff follows it.
    """
    lines = traceback_text.splitlines()
    start = 0
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            start = index + 1
    for line in lines[start:]:
        if line.strip() and not line[0].isspace():
            kind, colon, rest = line.partition(":")
            if kind and " " not in kind:
                return kind, rest.strip() or kind
            return "", line.strip()
    stripped = [line.strip() for line in lines if line.strip()]
    return "", stripped[-1] if stripped else ""


def subtest_parents(tests: Iterable[CaseRecord]) -> set[str]:
    """Return the ids whose outcome only repeats their failing subtests' (no message of their own).

    unittest counts such a failure once per subtest and never for the parent, so JUnit lists
    the subtests and leaves these parents out; the counts then equal the summary's.
    """
    records = list(tests)
    parents: set[str] = set()
    ids = {record.id for record in records}
    for record in records:
        head, space, _ = record.id.partition(" ")
        if space and head in ids and not _HOOK_ID.match(record.id):
            parents.add(head)
    return {
        record.id
        for record in records
        if record.id in parents and record.outcome in ("failed", "error") and not record.message
    }


def _testcase(record: CaseRecord) -> ET.Element:
    name = junit_name(record.id)
    case = ET.Element(
        "testcase",
        {"classname": name.classname, "name": name.name, "time": f"{record.duration:.3f}"},
    )
    if record.worker is not None:
        # First child, where pytest's record_property puts it and strict schemas expect it.
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", {"name": "worker", "value": str(record.worker)})
    kind = JUNIT_KIND.get(record.outcome, "error")
    message = _xml_text(record.message)
    if kind in ("failure", "error"):
        if record.outcome == "unexpected_success":
            exc_type, summary = "UnexpectedSuccess", "unexpected success"
        else:
            exc_type, summary = _exception_line(message)
        attrs = {"message": summary or record.outcome, "type": exc_type or record.outcome}
        child = ET.SubElement(case, kind, attrs)
        child.text = message
    elif kind == "skipped":
        if record.outcome == "expected_failure":
            attrs = {"message": "expected failure", "type": "expected_failure"}
            text = message
        elif record.outcome == "not_run":
            attrs = {"message": message or "not run", "type": "not_run"}
            text = ""
        else:
            attrs = {"message": message, "type": "skip"}
            text = ""
        child = ET.SubElement(case, "skipped", attrs)
        if text:
            child.text = text
    return case


def _timestamp(epoch: float) -> str:
    # JUnit's schema takes an ISO 8601 date-time without a zone; Jenkins reads local time.
    return datetime.fromtimestamp(epoch).replace(microsecond=0).isoformat()


def build_junit_xml(report: RunReport) -> ET.Element:
    """Return the ``<testsuites>`` element for ``report``: one suite holding every testcase."""
    skip = subtest_parents(report.tests)
    cases = [_testcase(record) for record in report.tests if record.id not in skip]
    counts: Counter[str] = Counter()
    for case in cases:
        for kind in ("failure", "error", "skipped"):
            if case.find(kind) is not None:
                counts[kind] += 1
    wall = float(report.summary.get("wall_seconds", report.finished_at - report.started_at))
    name = "concurrent_test" + (f" shard {report.shard}" if report.shard else "")
    totals = {
        "tests": str(len(cases)),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": f"{wall:.3f}",
    }
    root = ET.Element("testsuites", {"name": name, **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": name,
            **totals,
            "timestamp": _timestamp(report.started_at),
            "hostname": socket.gethostname(),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("workers", report.summary.get("workers", len(report.workers))),
        ("shard", report.shard or ""),
        ("vendor", report.vendor),
        ("exit_status", report.exit_status),
    ):
        ET.SubElement(properties, "property", {"name": key, "value": str(value)})
    suite.extend(cases)
    return root


def write_junit_xml(report: RunReport, path: Path) -> None:
    """Write ``report`` as JUnit XML (as Jenkins, GitLab and GitHub reporters read it) to ``path``.

    Each entry of ``report.tests`` is a ``<testcase>`` with ``classname``, ``name`` and ``time``;
    failed and unexpected successes carry ``<failure>``, errors ``<error>``, and skipped tests,
    expected failures and tests that never ran ``<skipped>``, each with a ``message`` and the
    traceback or reason as text. A parent test whose failure is only its subtests' is left out
    (its subtests are listed), so the failure and error counts equal the summary's.
    """
    root = build_junit_xml(report)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    write_atomic(Path(path), data + b"\n")
    logger.debug("Wrote JUnit XML to %s", path)
