"""Ctrl-C and SIGTERM in the middle of a run (issue 6).

The run is started with ``subprocess.Popen`` at ``-v 2`` (one line per finished test); once two
tests have finished, the signal is sent: SIGINT to the whole process group, as a terminal's
Ctrl-C is, and SIGTERM to the command's process only, as ``kill`` sends it. The command must
stop its workers, print a summary of what ran, exit 130 or 143, write a report in which the
tests that never ran are ``not_run``, and leave no clone, SQLite file or temporary file behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import (
    Project,
    command_line,
    fixture_files,
    left_running,
    make_project,
)

project = harness.project
used_servers = harness.used_servers

LABEL = "mishaps.tests.test_slow"
TOTAL_TESTS = 12
FINISHED_BEFORE_SIGNAL = 2
# One line per finished test at -v 2: "test_first (mishaps.tests.test_slow.SlowA.test_first) ... ok"
FINISHED_LINE = " ... ok"


class OutputReader:
    """Read a process's stream on a thread, so the test can wait for lines without blocking."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self.finished = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self.finished:
                self.lines.append(line)
                self.finished.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` tests have finished; return whether they did in time."""
        with self.finished:
            return self.finished.wait_for(
                lambda: sum(FINISHED_LINE in line for line in self.lines) >= count, timeout
            )

    @property
    def text(self) -> str:
        self.thread.join(timeout=10)
        return "".join(self.lines)


SIGNALS = {
    "SIGINT": (signal.SIGINT, 130),
    "SIGTERM": (signal.SIGTERM, 143),
}


@pytest.mark.parametrize("signal_name", list(SIGNALS))
def test_signal_mid_run_stops_cleanly(project: Project, tmp_path: Path, signal_name: str) -> None:
    check_interrupted_run(project, tmp_path, signal_name)


def test_sigint_on_sqlite_database_files(tmp_path: Path) -> None:
    """On SQLite test database files every clone is a file: none may survive Ctrl-C."""
    files = make_project("sqlite", tmp_path, sqlite_files=True)
    check_interrupted_run(files, tmp_path, "SIGINT")


def check_interrupted_run(project: Project, tmp_path: Path, signal_name: str) -> None:
    """Interrupt a run of the slow tests with ``signal_name``; assert it stopped cleanly."""
    signum, expected_status = SIGNALS[signal_name]
    files_before = fixture_files()
    report = tmp_path / "report.json"
    args = (
        "concurrent_test",
        LABEL,
        "--noinput",
        "--workers",
        "2",
        "-v",
        "2",
        "--no-progress",
        "--json-report",
        str(report),
    )
    command = command_line(args)
    marker = secrets.token_hex(8)
    process = project.popen(*args, marker=marker)
    out = OutputReader(process.stdout)
    err = OutputReader(process.stderr)
    try:
        started = err.wait_for(FINISHED_BEFORE_SIGNAL, timeout=90)
        assert started, f"{command}: no test finished in time\n{err.text}"
        if signum == signal.SIGINT:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        sent_at = time.monotonic()
        returncode = process.wait(timeout=60)
        stopped_after = time.monotonic() - sent_at
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    output = f"command: {command}\nstdout:\n{out.text}\nstderr:\n{err.text}"

    assert returncode == expected_status, output
    assert "Traceback (most recent call last)" not in err.text, output
    # The slow tests take a second each; the run stops without waiting for the rest.
    assert stopped_after < 15, f"stopped {stopped_after:.1f}s after the signal\n{output}"
    assert "Concurrent run: " in out.text, f"no summary printed\n{output}"

    data = json.loads(report.read_text())
    summary = data["summary"]
    outcomes = [entry["outcome"] for entry in data["tests"]]
    assert data["exit_status"] == expected_status, summary
    assert summary["successful"] is False, summary
    assert summary["tests_run"] >= FINISHED_BEFORE_SIGNAL, summary
    assert summary["not_run"] >= 1, summary
    assert len(data["tests"]) == TOTAL_TESTS, data["tests"]
    assert set(outcomes) <= {"passed", "not_run"}, outcomes
    assert outcomes.count("passed") == summary["tests_run"] == summary["passed"], summary
    not_run = [entry for entry in data["tests"] if entry["outcome"] == "not_run"]
    assert all("interrupted" in entry["message"] for entry in not_run), not_run

    assert project.leftovers() == [], output
    assert project.templates(), "the template is left intact for the next run"
    assert fixture_files() == files_before
    # Nothing of the run is still alive in its process group, nor in the workers' own groups.
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    assert left_running(marker) == [], output
