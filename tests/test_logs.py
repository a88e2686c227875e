"""The worker log line: its two formats pinned, the log file, and verbosity."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.reports import worker_log
from concurrent_test_app.reports.records import WorkerRecord
from tests.fixture_suites.faults import harness

KEYVALUE = re.compile(
    r"^\[CONCURRENT\] Worker (?P<worker>\d+) completed: database=(?P<database>[^,]+), "
    r"tests=(?P<tests>\d+), duration=(?P<duration>\d+\.\d{2})s, queries=(?P<queries>\d+), "
    r"memory_peak=(?P<memory>\d+\.\d)MB$"
)
JSON_KEYS = {
    "timestamp",
    "event",
    "worker",
    "database",
    "tests",
    "units",
    "duration",
    "busy_seconds",
    "utilisation",
    "queries",
    "memory_peak_mb",
    "restarts",
    "recycles",
}


def worker() -> WorkerRecord:
    return WorkerRecord(
        3,
        "test_shop_3",
        tests=120,
        units=7,
        busy_seconds=40.5,
        queries=5310,
        memory_peak_mb=212.44,
        restarts=1,
    )


@pytest.fixture(autouse=True)
def reset_logger() -> Iterator[None]:
    yield
    worker_log.close()
    worker_log.worker_logger.propagate = True


def test_keyvalue_line_is_the_seed_format() -> None:
    line = worker_log.format_keyvalue(worker(), 42.168)
    assert line == (
        "[CONCURRENT] Worker 3 completed: database=test_shop_3, tests=120, duration=42.17s, "
        "queries=5310, memory_peak=212.4MB"
    )
    assert KEYVALUE.match(line)


def test_keyvalue_quotes_a_value_that_would_break_the_line() -> None:
    record = worker()
    record.database = "/tmp/my dir/test,db.sqlite3"
    line = worker_log.format_keyvalue(record, 1.0)
    assert 'database="/tmp/my dir/test,db.sqlite3", tests=120' in line


def test_json_line_holds_every_figure() -> None:
    data = json.loads(worker_log.format_json(worker(), 50.0))
    assert set(data) == JSON_KEYS
    assert data["event"] == "worker_completed"
    assert (data["worker"], data["database"], data["tests"], data["units"]) == (
        3,
        "test_shop_3",
        120,
        7,
    )
    assert data["duration"] == 50.0 and data["busy_seconds"] == 40.5
    assert data["utilisation"] == 0.81
    assert data["queries"] == 5310 and data["memory_peak_mb"] == 212.4
    assert data["restarts"] == 1 and data["recycles"] == 0
    assert data["timestamp"].endswith("+00:00")


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_keyvalue_to_a_file(settings, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "logs" / "workers.log"
    settings.CONCURRENT_TEST_LOGGING = {"file": str(path)}
    worker_log.configure(verbosity=1)
    worker_log.worker_completed(worker(), 42.168)
    worker_log.worker_completed(WorkerRecord(4, "test_shop_4", tests=1), 0.5)
    lines = read_lines(path)
    assert len(lines) == 2
    assert all(KEYVALUE.match(line) for line in lines)
    assert lines[1].startswith("[CONCURRENT] Worker 4 completed: database=test_shop_4, tests=1,")
    captured = capfd.readouterr()
    assert "[CONCURRENT]" not in captured.out + captured.err


def test_json_lines_to_a_file(settings, tmp_path: Path) -> None:
    path = tmp_path / "workers.jsonl"
    settings.CONCURRENT_TEST_LOGGING = {"format": "json", "file": str(path)}
    worker_log.configure(verbosity=1)
    worker_log.worker_completed(worker(), 50.0)
    worker_log.worker_completed(worker(), 51.0)
    lines = read_lines(path)
    assert len(lines) == 2
    assert [json.loads(line)["duration"] for line in lines] == [50.0, 51.0]


def test_configure_twice_does_not_double_lines(settings, tmp_path: Path) -> None:
    path = tmp_path / "workers.log"
    settings.CONCURRENT_TEST_LOGGING = {"file": str(path)}
    worker_log.configure(verbosity=2)
    worker_log.configure(verbosity=2)
    ours = [h for h in worker_log.worker_logger.handlers if getattr(h, worker_log._OURS, False)]
    assert len(ours) == 2  # one file handler, one console handler
    worker_log.worker_completed(worker(), 1.0)
    assert len(read_lines(path)) == 1


def test_verbosity_zero_prints_nothing_even_through_root_handlers(
    settings, capfd: pytest.CaptureFixture[str]
) -> None:
    settings.CONCURRENT_TEST_LOGGING = "keyvalue"
    root_console = logging.StreamHandler()  # a project whose LOGGING prints INFO on stderr
    logging.getLogger().addHandler(root_console)
    try:
        worker_log.configure(verbosity=0)
        worker_log.worker_completed(worker(), 1.0)
    finally:
        logging.getLogger().removeHandler(root_console)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbosity_two_prints_the_line_on_stderr(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.CONCURRENT_TEST_LOGGING = {"format": "json"}
    worker_log.configure(verbosity=2)
    worker_log.worker_completed(worker(), 50.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert json.loads(line)["worker"] == 3


def test_verbosity_one_leaves_the_line_to_the_projects_logging(
    settings, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    settings.CONCURRENT_TEST_LOGGING = None
    worker_log.configure(verbosity=1)
    with caplog.at_level(logging.INFO, logger=worker_log.WORKER_LOGGER):
        worker_log.worker_completed(worker(), 42.168)
    (record,) = [r for r in caplog.records if r.name == worker_log.WORKER_LOGGER]
    assert KEYVALUE.match(record.getMessage())
    captured = capfd.readouterr()
    assert "[CONCURRENT]" not in captured.err


def test_the_file_gets_the_line_even_without_configure(settings, tmp_path: Path) -> None:
    path = tmp_path / "workers.log"
    settings.CONCURRENT_TEST_LOGGING = {"file": str(path)}
    worker_log.worker_completed(worker(), 42.168)
    (line,) = read_lines(path)
    assert KEYVALUE.match(line)


def test_a_bad_format_names_the_setting(settings) -> None:
    settings.CONCURRENT_TEST_LOGGING = {"format": "xml"}
    with pytest.raises(ConfigurationError, match="CONCURRENT_TEST_LOGGING"):
        worker_log.configure(verbosity=1)


def test_each_worker_line_gives_its_own_life(tmp_path: Path) -> None:
    """A worker that stopped early logs a shorter duration than one that ran to the end."""
    project = harness.make_project("sqlite", tmp_path)
    run = project.concurrent_test("mishaps.tests.test_lives", "-v", "2", env={"FAULTS_LIVES": "1"})
    assert run.returncode == 0, run.describe()
    logged = {
        int(match["slot"]): float(match["duration"])
        for match in re.finditer(
            r"Worker (?P<slot>\d+) completed: .*duration=(?P<duration>[\d.]+)s", run.stderr
        )
    }
    by_test = {entry["id"].rsplit(".", 1)[-1]: entry["worker"] for entry in run.report["tests"]}
    long_lived = by_test["test_returns_once_the_other_worker_is_gone"]
    short_lived = by_test["test_quick"]
    assert sorted(logged) == sorted([long_lived, short_lived]) == [1, 2], run.describe()
    assert logged[long_lived] > logged[short_lived], logged
    # The same figure as the JSON report's, which the summary's wall time bounds.
    lives = {worker["slot"]: worker["life_seconds"] for worker in run.report["workers"]}
    for slot, life in lives.items():
        assert abs(logged[slot] - life) < 0.006, (logged, lives)
        assert life <= run.report["summary"]["wall_seconds"] + 0.01, lives
