"""What a run leaves for CI and people: the JSON report, JUnit XML and the end-of-run summary.

Every writer takes the :class:`~concurrent_test_app.results.RunReport` the runner built and a
path; none of them looks at the run itself, so a report can be rewritten from a stored one.
Files are written to a temporary name beside the target and renamed into place, so a CI step
that uploads a report never sees half of one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .results import CaseRecord, RunReport

logger = logging.getLogger(__name__)

# How many of the slowest tests the summary lists, by verbosity.
SLOWEST_AT_VERBOSITY = {1: 10, 2: 25}
SLOWEST_MAX = 50

# unittest names a class- or module-level event "<hook> (<class or module>)".
_HOOK_ID = re.compile(
    r"^(?P<hook>setUpClass|tearDownClass|setUpModule|tearDownModule|doClassCleanups"
    r"|doModuleCleanups) \((?P<owner>[^()]+)\)$"
)
# The pool's own pseudo-id for a worker lost outside any unit (pool.BETWEEN_UNITS_ID).
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


# -- files -------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_report(report: RunReport, path: Path) -> None:
    """Write the run's JSON report (the shape of :meth:`RunReport.to_dict`) to ``path``."""
    text = json.dumps(report.to_dict(), indent=2, allow_nan=False)
    _write_atomic(Path(path), (text + "\n").encode("utf-8"))
    logger.debug("Wrote the JSON report to %s", path)


# -- JUnit XML ---------------------------------------------------------------------------------


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
    _write_atomic(Path(path), data + b"\n")
    logger.debug("Wrote JUnit XML to %s", path)


# -- console summary ---------------------------------------------------------------------------


def _seconds(value: float) -> str:
    if value >= 60:
        minutes, seconds = divmod(value, 60)
        return f"{int(minutes)}m{seconds:04.1f}s"
    return f"{value:.2f}s"


def slowest(report: RunReport, count: int) -> list[CaseRecord]:
    """Return the ``count`` slowest tests that ran, slowest first."""
    # Subtests, skips and class-level entries carry no time of their own.
    ran = [r for r in report.tests if r.outcome != "not_run" and r.duration > 0]
    return sorted(ran, key=lambda record: record.duration, reverse=True)[:count]


def print_summary(report: RunReport, write: Callable[[str], None], verbosity: int) -> None:
    """Write the end-of-run summary, one line per ``write`` call; nothing at verbosity 0.

    It lists the set-up time (templates, worker start-up, class and module fixtures), each
    template and whether it was reused or built, each worker's utilisation (busy seconds over
    the run's wall seconds) and the slowest tests.
    """
    if verbosity <= 0:
        return
    summary = report.summary
    wall = float(summary.get("wall_seconds", report.finished_at - report.started_at))
    where = ", ".join(
        part for part in (f"shard {report.shard}" if report.shard else "", report.vendor) if part
    )
    write(
        f"Concurrent run: {summary.get('tests_run', 0)} tests in {_seconds(wall)} "
        f"on {summary.get('workers', len(report.workers))} workers"
        + (f" ({where})" if where else "")
    )

    template_seconds = sum(t.seconds for t in report.templates)
    worker_setup = max((w.setup_seconds for w in report.workers), default=0.0)
    fixture_setup = sum(u.setup_seconds for u in report.units)
    write(
        f"Set-up: {_seconds(template_seconds + worker_setup)} before the first test "
        f"(templates {_seconds(template_seconds)}, slowest worker start-up "
        f"{_seconds(worker_setup)})"
    )
    write(f"Class and module fixtures (setUpClass, setUpModule): {_seconds(fixture_setup)} in all")

    if report.templates:
        write("Templates:")
        for template in report.templates:
            state = "reused" if template.reused else "built"
            write(
                f"  {template.alias}: {template.name} [{template.fingerprint}] "
                f"{state} in {_seconds(template.seconds)}"
            )

    if report.workers:
        write("Workers (busy / wall):")
        for worker in sorted(report.workers, key=lambda w: w.slot):
            share = worker.busy_seconds / wall if wall > 0 else 0.0
            extra = []
            if worker.restarts:
                extra.append(f"restarts {worker.restarts}")
            if worker.recycles:
                extra.append(f"recycled {worker.recycles}")
            write(
                f"  worker {worker.slot}: {share:6.1%}  busy {_seconds(worker.busy_seconds)}"
                f" of {_seconds(wall)}, {worker.tests} tests, {worker.queries} queries, "
                f"peak {worker.memory_peak_mb:.1f}MB"
                + (f", {', '.join(extra)}" if extra else "")
                + (f"  ({worker.database})" if worker.database and verbosity >= 2 else "")
            )

    count = SLOWEST_AT_VERBOSITY.get(verbosity, SLOWEST_MAX)
    top = slowest(report, count)
    if top:
        write(f"Slowest {len(top)} tests:")
        for record in top:
            on = f"  [worker {record.worker}]" if record.worker is not None else ""
            write(f"  {record.duration:8.3f}s  {record.id}{on}")
