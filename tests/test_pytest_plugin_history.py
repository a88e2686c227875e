"""The pytest plugin's history: one Run per session, shards and --longest-first from timings."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.pytest_runs import PytestProject, made_project, outcomes


@pytest.fixture
def project(tmp_path: Path) -> Iterator[PytestProject]:
    with made_project(tmp_path, "sqlite") as made:
        yield made


def _real_database(project: PytestProject) -> Path:
    return Path(project.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _migrate(project: PytestProject) -> None:
    """Create the history tables in the project's real database."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(project.env, DJANGO_SETTINGS_MODULE="pytest_project.settings")
    env["PYTHONPATH"] = os.pathsep.join([str(project.path), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0"],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def _rows(project: PytestProject, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(_real_database(project)) as connection:
        return list(connection.execute(sql))


def test_one_run_per_session_keyed_by_unittest_ids(project: PytestProject) -> None:
    _migrate(project)
    done = project.run("-n", "2")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    runs = _rows(
        project, "SELECT tests_run, failures, skipped, workers FROM concurrent_test_app_run"
    )
    assert runs == [(11, 1, 1, 2)]
    cases = dict(_rows(project, "SELECT test_id, latest_outcome FROM concurrent_test_app_case"))
    assert cases["notes.tests.SeededTests.test_seed_rows"] == "passed"
    assert cases["notes.tests.CrashTests.test_failing"] == "failed"
    assert cases["notes/tests.py::test_function_with_db"] == "passed"
    units = {row[0] for row in _rows(project, "SELECT key FROM concurrent_test_app_unittiming")}
    assert {"notes.tests.SeededTests", "notes/tests.py"} <= units


def test_shards_split_the_suite_once(project: PytestProject, tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []
    for k in (1, 2):
        junit = tmp_path / f"shard{k}.xml"
        project.run("--shard", f"{k}/2", "--junitxml", str(junit))
        seen.append(outcomes(junit))
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert len(seen[0]) + len(seen[1]) == 11


def test_longest_first_follows_the_timings_and_keeps_testcases_on_clean_clones(
    project: PytestProject, tmp_path: Path
) -> None:
    """A worker that ran a TransactionTestCase first clones afresh before its TestCases."""
    timings = tmp_path / "timings.json"
    known = {f"notes.tests.{name}": 1.0 for name in ("SeededTests", "CrashTests", "PlainTests")}
    known.update({"notes/tests.py": 1.0, "notes.tests.FlushingTests": 50.0})
    timings.write_text(json.dumps({"version": 1, "units": known}))
    done = project.run(
        "-n", "1", "--longest-first", "-v", TEST_TIMINGS_FILE=str(timings)
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    order = [
        word
        for line in done.stdout.splitlines()
        if " PASSED " in line or " FAILED " in line or " SKIPPED " in line
        for word in line.split()
        if word.startswith("notes/tests.py::")
    ]
    assert order[0].startswith("notes/tests.py::FlushingTests::"), order
    assert "1 failed, 9 passed, 1 skipped" in done.stdout
    # Its own timings came back into the file, under the unittest class names.
    units = json.loads(timings.read_text())["units"]
    assert {"notes.tests.SeededTests", "notes.tests.FlushingTests", "notes/tests.py"} <= set(units)
