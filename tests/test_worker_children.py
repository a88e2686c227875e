"""Issue 12, point 3: code under test may start processes, and none outlives the run.

Workers are not daemonic, so a test can start a ``multiprocessing.Process`` or a
``ProcessPoolExecutor`` as it can in serial. And the parent still ends every worker and
everything a worker started: when the parent itself is killed with SIGKILL in the middle of a
test whose children never end, no process of the run is left a few seconds later. The run's
processes are found by a unique value in their environment, which every one of them inherits.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import time
from pathlib import Path

import psutil

from tests.fixture_suites.faults.harness import (
    left_running,
    make_project,
    processes_with,
)

CHILDREN = "mishaps.tests.test_children"
# The bound: no process of the run may remain this long after the parent's SIGKILL.
GONE_WITHIN_SECONDS = 10.0
# How long the run may take to reach the test that starts the never-ending children.
REACH_SECONDS = 120.0
POLL_SECONDS = 0.1


def test_code_under_test_can_start_processes(tmp_path: Path) -> None:
    project = make_project("sqlite", tmp_path)
    run = project.concurrent_test(f"{CHILDREN}.ChildProcessTests")
    assert run.returncode == 0, run.describe()
    assert set(run.outcomes.values()) == {"passed"} and len(run.outcomes) == 2, run.describe()
    assert left_running(run.marker) == [], run.describe()


def test_nothing_of_the_run_outlives_a_sigkilled_parent(tmp_path: Path) -> None:
    project = make_project("sqlite", tmp_path)
    marker = secrets.token_hex(8)
    pids_file = tmp_path / "children.json"
    parent = project.popen(
        "concurrent_test",
        CHILDREN,
        "--noinput",
        "--workers",
        "2",
        "--timeout-per-test",
        "0",
        "--no-progress",
        "--no-history",
        marker=marker,
        env={"FAULTS_ORPHANS_FILE": str(pids_file)},
    )
    try:
        deadline = time.monotonic() + REACH_SECONDS
        while not pids_file.exists() and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        assert pids_file.exists(), f"the test never started its children (exit {parent.poll()})"
        started = json.loads(pids_file.read_text())
        running = {process.pid for process in processes_with(marker)}
        assert set(started.values()) <= running, (started, running)

        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        left = left_running(marker, within=GONE_WITHIN_SECONDS)
        assert left == [], f"still running {GONE_WITHIN_SECONDS:g} s after:\n" + "\n".join(left)
    finally:
        for process in processes_with(marker):
            with contextlib.suppress(psutil.Error):
                process.kill()
        if parent.poll() is None:
            parent.kill()
        parent.communicate(timeout=30)
