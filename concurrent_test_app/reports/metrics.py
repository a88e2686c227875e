"""The run as Prometheus metrics, in the text exposition format, written with prometheus-client.

The file suits node_exporter's textfile collector or a push to a Pushgateway
(``curl --data-binary @metrics.prom``). Every metric is a gauge of this one run, except the
clone times, which are a histogram (one observation per cloned database).
"""

from __future__ import annotations

import logging
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, Histogram, Info, write_to_textfile

from concurrent_test_app.reports.records import OUTCOMES, RunReport

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


def build_registry(report: RunReport, clone_seconds: list[float]) -> CollectorRegistry:
    """Return a registry holding the metrics of ``report`` and the given clone times."""
    registry = CollectorRegistry()
    summary = report.summary
    wall = float(summary.get("wall_seconds", report.finished_at - report.started_at))

    Info(
        f"{PREFIX}_run",
        "The run these metrics describe.",
        registry=registry,
    ).info({"shard": report.shard or "", "vendor": report.vendor})
    Gauge(
        f"{PREFIX}_run_duration_seconds", "Wall-clock seconds of the run.", registry=registry
    ).set(wall)
    Gauge(
        f"{PREFIX}_run_finished_timestamp_seconds",
        "When the run finished, in seconds since the epoch.",
        registry=registry,
    ).set(report.finished_at)
    Gauge(
        f"{PREFIX}_run_successful",
        "1 when the run passed as Django's serial runner would judge it, else 0.",
        registry=registry,
    ).set(1 if summary.get("successful") else 0)
    Gauge(f"{PREFIX}_exit_status", "The exit status of the command.", registry=registry).set(
        report.exit_status
    )
    Gauge(f"{PREFIX}_tests_run", "Tests run, as unittest counts them.", registry=registry).set(
        summary.get("tests_run", 0)
    )

    by_outcome = Gauge(
        f"{PREFIX}_tests",
        "Tests by outcome (failures and errors as unittest counts them).",
        ["outcome"],
        registry=registry,
    )
    for outcome in OUTCOMES:
        by_outcome.labels(outcome=outcome).set(summary.get(SUMMARY_KEY[outcome], 0))

    Gauge(f"{PREFIX}_workers", "Worker processes used.", registry=registry).set(
        summary.get("workers", len(report.workers))
    )
    labels = ["worker"]
    busy = Gauge(
        f"{PREFIX}_worker_busy_seconds",
        "Seconds each worker spent running work units.",
        labels,
        registry=registry,
    )
    utilisation = Gauge(
        f"{PREFIX}_worker_utilisation_ratio",
        "Each worker's busy seconds over the run's wall seconds.",
        labels,
        registry=registry,
    )
    tests = Gauge(f"{PREFIX}_worker_tests", "Tests each worker ran.", labels, registry=registry)
    queries = Gauge(
        f"{PREFIX}_worker_queries", "SQL queries each worker ran.", labels, registry=registry
    )
    memory = Gauge(
        f"{PREFIX}_worker_memory_peak_bytes",
        "Peak resident memory of each worker.",
        labels,
        registry=registry,
    )
    restarts = Gauge(
        f"{PREFIX}_worker_restarts",
        "Times each worker slot was restarted after a crash or timeout.",
        labels,
        registry=registry,
    )
    for worker in report.workers:
        slot = str(worker.slot)
        busy.labels(worker=slot).set(worker.busy_seconds)
        utilisation.labels(worker=slot).set(worker.busy_seconds / wall if wall > 0 else 0.0)
        tests.labels(worker=slot).set(worker.tests)
        queries.labels(worker=slot).set(worker.queries)
        memory.labels(worker=slot).set(worker.memory_peak_mb * 1024 * 1024)
        restarts.labels(worker=slot).set(worker.restarts)

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
    return registry


def write_metrics_file(report: RunReport, path: Path, clone_seconds: list[float]) -> None:
    """Write the run's metrics to ``path`` in Prometheus' text exposition format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # write_to_textfile writes a temporary file and renames it, so a collector never reads half.
    write_to_textfile(str(path), build_registry(report, clone_seconds))
    logger.debug("Wrote metrics to %s", path)
