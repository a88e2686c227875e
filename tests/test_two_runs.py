"""Two runs on one server never break each other (issue 12, point 4): real concurrent processes
on SQLite, PostgreSQL and MariaDB, in copies of the template fixture project.

- ``build_test_template --force`` or ``--prune`` started while another run is in the middle of
  its suite waits for that run, which still clones (a fresh clone after a TransactionTestCase)
  from the template it started with and ends with its serial verdict;
- two ``--keepdb`` runs at once both pass, and neither drops the other's clone;
- the clones of a run killed with SIGKILL are dropped by the next run, or by ``--prune``;
- a fresh clone in the middle of a run that must wait for another run's set-up waits, saying
  so (PostgreSQL, whose clones sessions on the template block); one that cannot be made at all
  turns the tests left into errors naming why, and every report is still written.

Timing is made deterministic with a rendezvous (see ``shelf/crossrun.py``): the paused run
waits for a file that the test creates once the other process reached the point under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.projects import Project, drop_server_database, naming_kind

# A TransactionTestCase unit first (it pauses at the rendezvous and flushes its clone), then a
# TestCase unit that needs the template's rows: the worker gets a fresh clone in between.
# The worker dies after FlushesThenWaits' rendezvous; its replacement clones the template
# mid-run to run Flushes, which serial runs next (each clone keeps serial order, so a clone
# is no longer made mid-run for a TestCase after a flush).
MID_RUN = (
    "concurrent_test",
    "shelf.crossrun.FlushesThenWaits",
    "shelf.crossrun.Flushes",
    "--workers",
    "1",
    "--noinput",
    "--no-history",
    "--no-progress",
)
TIMINGS = {
    "version": 1,
    "units": {
        "shelf.crossrun.FlushesThenWaits": {"seconds": 100.0, "setup_seconds": 0.0, "runs": 1},
        "shelf.crossrun.Flushes": {"seconds": 1.0, "setup_seconds": 0.0, "runs": 1},
    },
}
WAIT_LIMIT = 120.0  # seconds any step below may take before the test gives up


@dataclass
class Background:
    """A ``manage.py`` process started in its own session, its output going to files."""

    name: str
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def finish(self, timeout: float = WAIT_LIMIT) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish:\n{self.output()}") from None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


@pytest.fixture
def background(project: Project, tmp_path: Path) -> Iterator[Callable[..., Background]]:
    started: list[Background] = []

    def start(name: str, *args: str, **env: str) -> Background:
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=project.path,
                env={**os.environ, "PYTHONPATH": str(ROOT), **project.env, **env},
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        started.append(Background(name, process, out, err))
        return started[-1]

    try:
        yield start
    finally:
        for made in started:  # nothing outlives a failed test
            if made.process.poll() is None:
                made.kill()


def wait_for(condition: Callable[[], bool], *watched: Background) -> None:
    """Wait until ``condition`` holds; fail early, with its output, if a watched process ends."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        for made in watched:
            if made.process.poll() is not None:
                raise AssertionError(f"{made.name} ended early:\n{made.output()}")
        assert time.monotonic() < deadline, "\n".join(made.output() for made in watched)
        time.sleep(0.05)


def start_waiting_run(
    tmp_path: Path, start: Callable[..., Background], name: str, *options: str
) -> tuple[Background, Path]:
    """Start a one-worker run that waits inside its test until GO exists; return it and GO."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    run = start(
        name,
        "concurrent_test",
        "shelf.crossrun.WaitsThenReadsSeed",
        "--workers",
        "1",
        "--noinput",
        "--no-progress",
        *options,
        CROSSRUN_READY=str(ready),
        CROSSRUN_GO=str(go),
    )
    wait_for(ready.exists, run)
    return run, go


def clones(project: Project) -> list[str]:
    return [name for name in project.databases() if naming_kind(name) == "w"]


def assert_serial_verdict(run: Background, tests: int) -> None:
    returncode = run.finish()
    output = run.output()
    assert returncode == 0, output
    assert f"Ran {tests} test{'s' if tests != 1 else ''}" in output and "\nOK" in output, output


def on_files(project: Project) -> None:
    """Give SQLite a test database file, so that its clones are files a run may leave behind."""
    if project.vendor == "sqlite":
        project.env["TEST_DATABASE_FILE"] = str(project.path / "test_db.sqlite3")


# -- a build during another run's mid-run clones ---------------------------------------------------


def start_paused_run(
    project: Project, tmp_path: Path, start: Callable[..., Background], *options: str
) -> tuple[Background, Path]:
    """Start a run that pauses in its first unit and clones again after it; return it and GO."""
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps(TIMINGS))
    ready, go = tmp_path / "ready", tmp_path / "go"
    run = start(
        "run",
        *MID_RUN,
        "--timings-file",
        str(timings),
        *options,
        CROSSRUN_READY=str(ready),
        CROSSRUN_GO=str(go),
        CROSSRUN_EXIT_AFTER="1",
    )
    wait_for(ready.exists, run)
    return run, go


def assert_mid_run_verdict(run: Background) -> None:
    """The paused run ends as it must: its first test lost with its worker, Flushes passed on
    the replacement's clone, made mid-run."""
    returncode = run.finish()
    output = run.output()
    assert returncode == 1, output
    assert "Ran 2 tests" in output and "FAILED (errors=1)" in output, output
    assert "died with exit code 3" in output and "Replacing worker 1" in output, output


def output_of_waiter(waiter: Background, run: Background) -> str:
    """Return the output of ``waiter``, which must pass, naming the ``run`` it waited for."""
    returncode = waiter.finish()
    output = waiter.output()
    assert returncode == 0, output
    assert f"pid {run.pid}" in output, output
    return output


def test_a_forced_rebuild_waits_for_a_run_that_clones_mid_run(
    project: Project, tmp_path: Path, background: Callable[..., Background]
) -> None:
    template = project.build()["name"]
    run, go = start_paused_run(project, tmp_path, background)

    build = background("build", "build_test_template", "--force", SLOW_MIGRATION="2")
    # It waits for the run, saying so (before the fix it dropped the template at once).
    wait_for(lambda: "Waiting for" in build.output() or template not in project.databases(), build)
    go.touch()

    assert_mid_run_verdict(run)
    output = output_of_waiter(build, run)
    assert " built in " in output, output
    assert template in project.databases()


def test_prune_waits_for_a_run_of_an_older_fingerprint_that_clones_mid_run(
    project: Project, tmp_path: Path, background: Callable[..., Background]
) -> None:
    old = project.build()["name"]
    run, go = start_paused_run(project, tmp_path, background)
    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    seed.write_text(seed.read_text() + "\n# edited while the run is going\n")

    prune = background(
        "prune", "build_test_template", "--prune", TEMPLATES_TO_KEEP="0", SLOW_MIGRATION="2"
    )
    wait_for(lambda: "Waiting for" in prune.output() or old not in project.databases(), prune)
    go.touch()

    assert_mid_run_verdict(run)
    output = output_of_waiter(prune, run)
    assert f"dropped {old}" in output, output
    assert old not in project.databases()
    assert clones(project) == [], project.databases()


# -- two --keepdb runs at once ---------------------------------------------------------------------


def test_two_keepdb_runs_at_once_both_pass_and_keep_their_own_clones(
    project: Project, tmp_path: Path, background: Callable[..., Background]
) -> None:
    on_files(project)
    first, go = start_waiting_run(tmp_path, background, "first", "--keepdb")
    [kept] = clones(project)

    # The same project and slot, a TransactionTestCase that flushes whatever clone it gets.
    second = project.manage(
        "concurrent_test", "shelf.crossrun.Flushes", "--workers", "1", "--keepdb", "--noinput"
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert clones(project) == [kept], project.databases()  # its own clone went, not ours
    go.touch()

    assert_serial_verdict(first, 1)
    assert "in use by another run" in second.stderr, second.stderr
    assert clones(project) == [kept], project.databases()  # kept for the next --keepdb run
    again = project.manage(
        "concurrent_test",
        "shelf.crossrun.ReadsSeed",
        "--workers",
        "1",
        "--keepdb",
        "--noinput",
        "-v",
        "2",
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert clones(project) == [kept], project.databases()


# -- a run killed with SIGKILL ---------------------------------------------------------------------


@pytest.mark.parametrize("cleaner", ["next run", "prune"])
def test_the_clones_of_a_killed_run_are_dropped_by_the_next_run_or_prune(
    project: Project, tmp_path: Path, background: Callable[..., Background], cleaner: str
) -> None:
    on_files(project)
    # Run-token clones; a killed run's ready clone is tested in tests/test_ready_clones.py.
    project.env["READY_CLONES"] = "false"
    doomed, _ = start_waiting_run(tmp_path, background, "doomed")  # GO never comes
    left = clones(project)
    assert len(left) == 1, project.databases()
    doomed.kill()  # the whole process group: the parent and its worker, with no clean-up
    assert clones(project) == left

    if cleaner == "next run":
        done = project.manage(
            "concurrent_test", "shelf.crossrun.ReadsSeed", "--workers", "1", "--noinput"
        )
    else:
        done = project.manage("build_test_template", "--prune")
    assert done.returncode == 0, done.stdout + done.stderr
    assert clones(project) == [], project.databases()
    assert left[0] in done.stdout + done.stderr, done.stdout + done.stderr  # it says so


# -- a mid-run clone that must wait, or cannot be made ------------------------------------------


@pytest.mark.parametrize("vendor", ["postgresql"], indirect=True)
def test_a_mid_run_clone_waits_for_another_runs_set_up_saying_so(
    project: Project, tmp_path: Path, background: Callable[..., Background]
) -> None:
    """Before the fix the clone gave up after 30 s and the run exited 2 with no report."""
    run, go = start_paused_run(project, tmp_path, background)
    checking, released = tmp_path / "checking", tmp_path / "released"
    # Another run's parent stays connected to the template while its system checks run.
    other = background(
        "other",
        "concurrent_test",
        "shelf.crossrun.ReadsSeed",
        "--workers",
        "1",
        "--noinput",
        "--no-progress",
        CROSSRUN_CHECK_READY=str(checking),
        CROSSRUN_CHECK_GO=str(released),
    )
    wait_for(checking.exists, other, run)
    go.touch()
    wait_for(lambda: "waits for 1 other session(s) on the template" in run.output(), run, other)
    released.touch()

    assert_mid_run_verdict(run)
    assert_serial_verdict(other, 1)


def test_a_mid_run_clone_that_cannot_be_made_errors_its_tests_and_writes_every_report(
    project: Project, tmp_path: Path, background: Callable[..., Background]
) -> None:
    on_files(project)  # SQLite: the parent copies clone files (in memory, the worker loads)
    template = project.build()["name"]
    report = tmp_path / "report.json"
    run, go = start_paused_run(project, tmp_path, background, "--json-report", str(report))
    # Dropped behind the app's back, as at the server's console: no guard can stop that.
    if project.vendor == "sqlite":
        Path(project.location(template)).unlink()
    else:
        drop_server_database(project.vendor, template)
    go.touch()

    returncode = run.finish()
    output = run.output()
    assert returncode == 1, output
    assert "Ran 2 tests" in output and "FAILED (errors=2)" in output, output
    assert report.exists(), output
    entries = {entry["id"]: entry for entry in json.loads(report.read_text())["tests"]}
    lost = entries["shelf.crossrun.FlushesThenWaits.test_write_then_wait"]
    assert lost["outcome"] == "error" and "exit code 3" in lost["message"], lost
    failed = entries["shelf.crossrun.Flushes.test_write"]
    assert failed["outcome"] == "error", failed
    assert "could not get a fresh clone" in failed["message"], failed
    assert f"The template {template!r} does not exist" in failed["message"], failed
    assert clones(project) == [], project.databases()
