"""The end-of-run summary printed after unittest's own lines."""

from __future__ import annotations

import logging
from collections.abc import Callable

from concurrent_test_app.reports.records import CaseRecord, RunReport

logger = logging.getLogger(__name__)

# How many of the slowest tests the summary lists, by verbosity.
SLOWEST_AT_VERBOSITY = {1: 10, 2: 25}
SLOWEST_MAX = 50


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
    wall = float(report.summary.get("wall_seconds", report.finished_at - report.started_at))
    for line in (
        *_overview(report, wall),
        *_templates(report),
        *_workers(report, wall, verbosity),
        *_slowest_tests(report, verbosity),
    ):
        write(line)


def _overview(report: RunReport, wall: float) -> list[str]:
    """Return the run's headline and where its set-up time went."""
    summary = report.summary
    where = ", ".join(
        part for part in (f"shard {report.shard}" if report.shard else "", report.vendor) if part
    )
    template_seconds = sum(t.seconds for t in report.templates)
    worker_setup = max((w.setup_seconds for w in report.workers), default=0.0)
    fixture_setup = sum(u.setup_seconds for u in report.units)
    return [
        f"Concurrent run: {summary.get('tests_run', 0)} tests in {_seconds(wall)} "
        f"on {summary.get('workers', len(report.workers))} workers"
        + (f" ({where})" if where else ""),
        f"Set-up: {_seconds(template_seconds + worker_setup)} before the first test "
        f"(templates {_seconds(template_seconds)}, slowest worker start-up "
        f"{_seconds(worker_setup)})",
        f"Class and module fixtures (setUpClass, setUpModule): {_seconds(fixture_setup)} in all",
    ]


def _templates(report: RunReport) -> list[str]:
    """Return a line per template database: built or reused, and how long that took."""
    if not report.templates:
        return []
    return ["Templates:"] + [
        f"  {template.alias}: {template.name} [{template.fingerprint}] "
        f"{'reused' if template.reused else 'built'} in {_seconds(template.seconds)}"
        for template in report.templates
    ]


def _workers(report: RunReport, wall: float, verbosity: int) -> list[str]:
    """Return a line per worker: its share of the wall time, its load and its memory peak."""
    if not report.workers:
        return []
    lines = ["Workers (busy / wall):"]
    for worker in sorted(report.workers, key=lambda w: w.slot):
        share = worker.busy_seconds / wall if wall > 0 else 0.0
        extra = []
        if worker.restarts:
            extra.append(f"restarts {worker.restarts}")
        if worker.recycles:
            extra.append(f"recycled {worker.recycles}")
        lines.append(
            f"  worker {worker.slot}: {share:6.1%}  busy {_seconds(worker.busy_seconds)}"
            f" of {_seconds(wall)}, {worker.tests} tests, {worker.queries} queries, "
            f"peak {worker.memory_peak_mb:.1f}MB"
            + (f", {', '.join(extra)}" if extra else "")
            + (f"  ({worker.database})" if worker.database and verbosity >= 2 else "")
        )
    return lines


def _slowest_tests(report: RunReport, verbosity: int) -> list[str]:
    """Return the slowest tests, as many as the verbosity asks for."""
    top = slowest(report, SLOWEST_AT_VERBOSITY.get(verbosity, SLOWEST_MAX))
    if not top:
        return []
    return [f"Slowest {len(top)} tests:"] + [
        f"  {record.duration:8.3f}s  {record.id}"
        + (f"  [worker {record.worker}]" if record.worker is not None else "")
        for record in top
    ]
