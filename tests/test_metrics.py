"""The metrics file, parsed back with prometheus-client's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from concurrent_test_app.reports.metrics import write_metrics_file
from concurrent_test_app.reports.records import OUTCOMES

from .test_reporting import sample_report

CLONES = [0.2, 0.3, 4.0]


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return {(sample name, sorted labels): value} of the exposition in ``path``."""
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def metrics(tmp_path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    path = tmp_path / "out" / "metrics.prom"
    write_metrics_file(sample_report(), path, CLONES)
    assert [p.name for p in path.parent.iterdir()] == ["metrics.prom"]
    return samples(path)


def test_run_duration_and_status(metrics: dict) -> None:
    assert metrics[("concurrent_test_run_duration_seconds", ())] == 10.0
    assert metrics[("concurrent_test_run_finished_timestamp_seconds", ())] == 1_700_000_010.0
    assert metrics[("concurrent_test_run_successful", ())] == 0.0
    assert metrics[("concurrent_test_exit_status", ())] == 1.0
    assert metrics[("concurrent_test_workers", ())] == 2.0
    assert metrics[("concurrent_test_tests_run", ())] == 9.0
    info = (("shard", "1/2"), ("vendor", "postgresql"))
    assert metrics[("concurrent_test_run_info", info)] == 1.0


def test_tests_by_outcome_equal_the_summary(metrics: dict) -> None:
    summary = sample_report().summary
    by_outcome = {
        labels[0][1]: value
        for (name, labels), value in metrics.items()
        if name == "concurrent_test_tests"
    }
    assert set(by_outcome) == set(OUTCOMES)
    assert by_outcome == {
        "passed": summary["passed"],
        "failed": summary["failures"],
        "error": summary["errors"],
        "skipped": summary["skipped"],
        "expected_failure": summary["expected_failures"],
        "unexpected_success": summary["unexpected_successes"],
        "not_run": summary["not_run"],
    }


def test_per_worker_figures(metrics: dict) -> None:
    assert metrics[("concurrent_test_worker_busy_seconds", (("worker", "1"),))] == 5.0
    assert metrics[("concurrent_test_worker_busy_seconds", (("worker", "2"),))] == 9.5
    assert metrics[("concurrent_test_worker_utilisation_ratio", (("worker", "2"),))] == 0.95
    assert metrics[("concurrent_test_worker_tests", (("worker", "1"),))] == 7.0
    assert metrics[("concurrent_test_worker_queries", (("worker", "2"),))] == 45.0
    assert metrics[("concurrent_test_worker_memory_peak_bytes", (("worker", "2"),))] == (
        91.5 * 1024 * 1024
    )
    assert metrics[("concurrent_test_worker_restarts", (("worker", "2"),))] == 1.0


def test_template_and_clone_seconds(metrics: dict) -> None:
    reused = (("action", "reused"), ("alias", "default"))
    built = (("action", "built"), ("alias", "other"))
    assert metrics[("concurrent_test_template_seconds", reused)] == 0.05
    assert metrics[("concurrent_test_template_seconds", built)] == 2.5
    assert metrics[("concurrent_test_clone_seconds_count", ())] == 3.0
    assert metrics[("concurrent_test_clone_seconds_sum", ())] == pytest.approx(4.5)
    assert metrics[("concurrent_test_clone_seconds_bucket", (("le", "0.25"),))] == 1.0
    assert metrics[("concurrent_test_clone_seconds_bucket", (("le", "0.5"),))] == 2.0
    assert metrics[("concurrent_test_clone_seconds_bucket", (("le", "+Inf"),))] == 3.0


def test_a_run_without_workers_or_clones(tmp_path: Path) -> None:
    report = sample_report()
    report.workers, report.templates = [], []
    report.summary["successful"] = True
    path = tmp_path / "metrics.prom"
    path.write_text("stale")
    write_metrics_file(report, path, [])
    found = samples(path)
    assert found[("concurrent_test_run_successful", ())] == 1.0
    assert found[("concurrent_test_clone_seconds_count", ())] == 0.0
    assert not any(name == "concurrent_test_worker_busy_seconds" for name, _ in found)
