"""The run as Prometheus metrics, in the text exposition format, written with prometheus-client.

The file suits node_exporter's textfile collector or a push to a Pushgateway
(``curl --data-binary @metrics.prom``). Every metric is a gauge of this one run, except the
clone times, which are a histogram (one observation per cloned database).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, Histogram, Info, write_to_textfile

from concurrent_test_app.reports.records import OUTCOMES, RunReport, WorkerRecord

logger = logging.getLogger(__name__)

PREFIX = "concurrent_test"

# The summary key that counts each outcome (the summary counts as unittest does).
SUMMARY_KEY = {
    "passed": "passed",
    "failed": "failures",
    "error": "errors",
    "skipped": "skipped",
    "expected_failure": "expected_failures",
    "unexpected_success": "unexpected_successes",
    "not_run": "not_run",
}

CLONE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# Gauges of the whole run: name (after the prefix), help, value from the report and its wall
# seconds.
RUN_GAUGES: tuple[tuple[str, str, Callable[[RunReport, float], float]], ...] = (
    ("run_duration_seconds", "Wall-clock seconds of the run.", lambda report, wall: wall),
    (
        "run_finished_timestamp_seconds",
        "When the run finished, in seconds since the epoch.",
        lambda report, wall: report.finished_at,
    ),
    (
        "run_successful",
        "1 when the run passed as Django's serial runner would judge it, else 0.",
        lambda report, wall: 1 if report.summary.get("successful") else 0,
    ),
    ("exit_status", "The exit status of the command.", lambda report, wall: report.exit_status),
    (
        "tests_run",
        "Tests run, as unittest counts them.",
        lambda report, wall: report.summary.get("tests_run", 0),
    ),
)

# Gauges of each worker, labelled by its slot: name, help, value from the worker and the wall.
WORKER_GAUGES: tuple[tuple[str, str, Callable[[WorkerRecord, float], float]], ...] = (
    (
        "worker_busy_seconds",
        "Seconds each worker spent running work units.",
        lambda worker, wall: worker.busy_seconds,
    ),
    (
        "worker_utilisation_ratio",
        "Each worker's busy seconds over the run's wall seconds.",
        lambda worker, wall: worker.busy_seconds / wall if wall > 0 else 0.0,
    ),
    ("worker_tests", "Tests each worker ran.", lambda worker, wall: worker.tests),
    ("worker_queries", "SQL queries each worker ran.", lambda worker, wall: worker.queries),
    (
        "worker_memory_peak_bytes",
        "Peak resident memory of each worker.",
        lambda worker, wall: worker.memory_peak_mb * 1024 * 1024,
    ),
    (
        "worker_restarts",
        "Times each worker slot was restarted after a crash or timeout.",
        lambda worker, wall: worker.restarts,
    ),
)


def build_registry(report: RunReport, clone_seconds: list[float]) -> CollectorRegistry:
    """Return a registry holding the metrics of ``report`` and the given clone times."""
    registry = CollectorRegistry()
    wall = float(report.summary.get("wall_seconds", report.finished_at - report.started_at))
    _add_run(registry, report, wall)
    _add_workers(registry, report, wall)
    _add_databases(registry, report, clone_seconds)
    return registry


def _add_run(registry: CollectorRegistry, report: RunReport, wall: float) -> None:
    """Add what the run was, how it ended and its tests by outcome."""
    Info(
        f"{PREFIX}_run",
        "The run these metrics describe.",
        registry=registry,
    ).info({"shard": report.shard or "", "vendor": report.vendor})
    for name, description, value in RUN_GAUGES:
        Gauge(f"{PREFIX}_{name}", description, registry=registry).set(value(report, wall))
    by_outcome = Gauge(
        f"{PREFIX}_tests",
        "Tests by outcome (failures and errors as unittest counts them).",
        ["outcome"],
        registry=registry,
    )
    for outcome in OUTCOMES:
        by_outcome.labels(outcome=outcome).set(report.summary.get(SUMMARY_KEY[outcome], 0))


def _add_workers(registry: CollectorRegistry, report: RunReport, wall: float) -> None:
    """Add how many workers the run used, and each one's load and memory."""
    Gauge(f"{PREFIX}_workers", "Worker processes used.", registry=registry).set(
        report.summary.get("workers", len(report.workers))
    )
    for name, description, value in WORKER_GAUGES:
        gauge = Gauge(f"{PREFIX}_{name}", description, ["worker"], registry=registry)
        for worker in report.workers:
            gauge.labels(worker=str(worker.slot)).set(value(worker, wall))


def _add_databases(
    registry: CollectorRegistry, report: RunReport, clone_seconds: list[float]
) -> None:
    """Add the time each template took to get, and the clone times as a histogram."""
    template = Gauge(
        f"{PREFIX}_template_seconds",
        "Seconds spent getting each template database: building it, or finding it to reuse.",
        ["alias", "action"],
        registry=registry,
    )
    for record in report.templates:
        action = "reused" if record.reused else "built"
        template.labels(alias=record.alias, action=action).set(record.seconds)
    clones = Histogram(
        f"{PREFIX}_clone_seconds",
        "Seconds to clone one worker database from its template.",
        buckets=CLONE_BUCKETS,
        registry=registry,
    )
    for seconds in clone_seconds:
        clones.observe(seconds)


def write_metrics_file(report: RunReport, path: Path, clone_seconds: list[float]) -> None:
    """Write the run's metrics to ``path`` in Prometheus' text exposition format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # write_to_textfile writes a temporary file and renames it, so a collector never reads half.
    write_to_textfile(str(path), build_registry(report, clone_seconds))
    logger.debug("Wrote metrics to %s", path)
