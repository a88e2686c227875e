"""Drive the faults fixture project from the acceptance tests, and find what a run left behind.

Every database the tests create is named after ``TOKEN`` (unique to one pytest session), so the
leftover checks and the final clean-up look only at this session's databases on the shared
servers. Template databases are kept on purpose between runs (``build_test_template``), so a
leftover is any database or SQLite file carrying the token that is not a published template.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from concurrent_test_app.databases import naming
from tests import dbserver
from tests.conftest import ROOT, SERVERS, _reachable, database_url

FAULTS_DIR = ROOT / "tests" / "fixture_suites" / "faults"
# Short, because the app shortens long name prefixes with a hash and the token must survive.
TOKEN = f"flt{secrets.token_hex(2)}"
SETTINGS = "faults_project.settings"
# Every run gets a unique value of this variable, which all its processes inherit: the parent,
# the workers, their guardians and whatever the tests start. processes_with() finds them.
RUN_MARKER = "FAULTS_RUN_MARKER"
# How long the processes of a run that ended may take to disappear (a killed process is gone
# a moment after its parent saw it die).
GONE_SECONDS = 5.0


@dataclass
class Run:
    """What one ``manage.py`` run of the fixture project did."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)
    marker: str = ""

    @property
    def outcomes(self) -> dict[str, str]:
        return {entry["id"]: entry["outcome"] for entry in self.report.get("tests", [])}

    @property
    def messages(self) -> dict[str, str]:
        return {entry["id"]: entry.get("message") or "" for entry in self.report.get("tests", [])}

    def describe(self) -> str:
        """Return the command, its exit status and the tail of its output, for assertions."""
        out = "\n".join(self.stdout.splitlines()[-30:])
        err = "\n".join(self.stderr.splitlines()[-60:])
        return (
            f"command: {self.command}\nexit status: {self.returncode} after {self.seconds:.1f}s"
            f"\n--- stdout tail ---\n{out}\n--- stderr tail ---\n{err}"
        )


@dataclass
class Project:
    """The fixture project pointed at one vendor: its environment and its scratch folder."""

    vendor: str
    scratch: Path
    database: str  # the real database's name (a file path for SQLite)
    env: dict[str, str]

    @property
    def tmpdir(self) -> Path:
        """Return the TMPDIR the runs get, so that their temporary files can be checked."""
        return Path(self.env["TMPDIR"])

    @property
    def sqlite_folder(self) -> Path:
        """Return where the app keeps this project's SQLite templates and clones."""
        test_file = self.env.get("FAULTS_SQLITE_TEST_FILE")
        return Path(test_file or self.database).parent / naming.SQLITE_FOLDER

    def manage(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        """Run ``manage.py ARGS`` in the fixture project and return what it did."""
        report_path = _report_path(args)
        if report_path is not None and report_path.exists():
            report_path.unlink()
        marker = secrets.token_hex(8)
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            **self.env,
            RUN_MARKER: marker,
            **(env or {}),
        }
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=FAULTS_DIR,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        run = Run(
            command=command_line(args, env),
            returncode=completed.returncode,
            stdout=completed.stdout,
            stderr=completed.stderr,
            seconds=time.monotonic() - started,
            marker=marker,
        )
        if report_path is not None and report_path.exists():
            run.report = json.loads(report_path.read_text())
        return run

    def concurrent_test(
        self,
        *args: str,
        workers: int = 2,
        history: bool = False,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> Run:
        """Run ``concurrent_test ARGS`` without prompts or progress bar, its JSON report read.

        The report goes to ``report.json`` in the scratch folder; the timing history is left
        alone unless ``history``.
        """
        return self.manage(
            "concurrent_test",
            *args,
            "--noinput",
            "--workers",
            str(workers),
            "--no-progress",
            *(() if history else ("--no-history",)),
            "--json-report",
            str(self.scratch / "report.json"),
            env=env,
            timeout=timeout,
        )

    def popen(
        self, *args: str, marker: str = "", env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start ``manage.py ARGS`` in its own session (as a terminal's foreground job is).

        ``marker`` goes into the environment as RUN_MARKER, to find the run's processes.
        """
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=FAULTS_DIR,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                **self.env,
                RUN_MARKER: marker,
                **(env or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    # -- what a run left behind ------------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Return every database, SQLite file or temporary file of this project that a run left.

        Published templates (and the lock file their builds share) and ready clones are kept
        on purpose.
        """
        found = [f"temporary file {path}" for path in sorted(self.tmpdir.rglob("*"))]
        if self.vendor == "sqlite":
            if self.sqlite_folder.is_dir():
                for path in sorted(self.sqlite_folder.iterdir()):
                    if path.suffix == ".lock" or kept_on_purpose(path.name):
                        continue
                    found.append(f"SQLite file {path}")
            for path in sorted(self.scratch.iterdir()):
                if path.name.startswith("test_") or path.name.endswith(naming.SQLITE_SUFFIX):
                    if path != Path(self.database):
                        found.append(f"SQLite file {path}")
        else:
            found += [
                f"{self.vendor} database {name}"
                for name in self.server_names()
                if not kept_on_purpose(name)
            ]
        return found

    def server_names(self) -> list[str]:
        """Return the test databases, templates and clones of this project on its server.

        Their names start with the test database's name, ``test_<real name>``; the app keeps
        it at the front of every name it derives.
        """
        test_name = f"test_{self.database}"
        return [
            name
            for name in server_databases(self.vendor)
            if name == test_name or name.startswith(f"{test_name}_")
        ]

    def templates(self) -> list[str]:
        """Return this project's published templates (database or SQLite file names)."""
        if self.vendor == "sqlite":
            if not self.sqlite_folder.is_dir():
                return []
            return sorted(p.name for p in self.sqlite_folder.iterdir() if is_template(p.name))
        return [name for name in self.server_names() if is_template(name)]

    def drop_server_databases(self) -> None:
        """Drop this project's test databases, templates and clones (not the real one)."""
        drop_databases(self.vendor, self.server_names())


def _report_path(args: tuple[str, ...]) -> Path | None:
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "--json-report":
            return Path(value)
    return None


def command_line(args: tuple[str, ...], env: dict[str, str] | None = None) -> str:
    """Return the shell command that reproduces a run, for failure messages and the report."""
    assignments = " ".join(f"{key}={value}" for key, value in (env or {}).items())
    prefix = f"{assignments} " if assignments else ""
    return f"cd {FAULTS_DIR} && {prefix}python manage.py {' '.join(args)}"


def is_template(name: str) -> bool:
    """Return whether ``name`` is a published template database (or its SQLite file)."""
    parsed = naming.parse(name)
    return parsed is not None and parsed.kind == naming.TEMPLATE


def kept_on_purpose(name: str) -> bool:
    """Return whether a run leaves ``name`` on purpose: a template, or a ready clone for the
    next run (tests/test_ready_clones.py shows that a flushed one is never left ready)."""
    parsed = naming.parse(name)
    return is_template(name) or (parsed is not None and parsed.token == naming.READY_TOKEN)


def make_project(
    vendor: str, scratch: Path, suffix: str = "", *, sqlite_files: bool = False
) -> Project:
    """Return the fixture project on ``vendor``, with its real database named for this session.

    On PostgreSQL and MariaDB the real database is not created here: see
    :func:`create_real_database` for the runs that need one. ``sqlite_files`` gives SQLite a
    test database file, so that its templates and clones are files (by default Django tests
    SQLite in memory, and so do the workers).
    """
    tmpdir = scratch / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    if vendor == "sqlite":
        database = str(scratch / "faults.sqlite3")
        url = database_url(vendor, database)
    else:
        database = f"{TOKEN}{suffix}"
        url = database_url(vendor, database)
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": url, "TMPDIR": str(tmpdir)}
    if sqlite_files and vendor == "sqlite":
        env["FAULTS_SQLITE_TEST_FILE"] = str(scratch / "test_faults.sqlite3")
    return Project(vendor=vendor, scratch=scratch, database=database, env=env)


# -- the servers ---------------------------------------------------------------------------


def server_databases(vendor: str) -> list[str]:
    """Return the databases on ``vendor``'s server whose names carry this session's token."""
    return dbserver.databases(vendor, TOKEN)


def create_real_database(vendor: str, name: str) -> None:
    """Create the project's real (non-test) database on ``vendor``'s server."""
    assert TOKEN in name
    dbserver.create_database(vendor, name)


def drop_session_databases(vendor: str) -> None:
    """Drop every database carrying this session's token: real ones, templates and clones."""
    if _reachable(str(SERVERS[vendor]["host"]), int(SERVERS[vendor]["port"])):  # type: ignore[call-overload]
        drop_databases(vendor, server_databases(vendor))


def drop_databases(vendor: str, names: list[str]) -> None:
    """Drop the databases ``names`` (each carrying this session's token) on ``vendor``."""
    assert all(TOKEN in name for name in names), names
    dbserver.drop_databases(vendor, names)


@pytest.fixture(scope="module")
def used_servers() -> Iterator[set[str]]:
    """Collect the servers a module used; drop this session's databases on them at the end."""
    used: set[str] = set()
    yield used
    for vendor in sorted(used):
        drop_session_databases(vendor)


@pytest.fixture
def project(vendor: str, tmp_path: Path, used_servers: set[str]) -> Project:
    """Return the fixture project on ``vendor``, remembering the server for the clean-up."""
    if vendor != "sqlite":
        used_servers.add(vendor)
    return make_project(vendor, tmp_path)


def processes_with(marker: str) -> list[psutil.Process]:
    """Return the live processes whose environment holds ``RUN_MARKER=marker``."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and (
                process.environ().get(RUN_MARKER) == marker
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def left_running(marker: str, within: float = GONE_SECONDS) -> list[str]:
    """Return the processes of a run still alive ``within`` seconds from now (none, ideally)."""
    deadline = time.monotonic() + within
    left = processes_with(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_with(marker)
    described = []
    for process in left:
        try:
            described.append(f"{process.pid} {' '.join(process.cmdline())[:150]}")
        except psutil.Error:
            described.append(f"{process.pid} (gone)")
    return described


def fixture_files() -> set[Path]:
    """Return the fixture project's files (bytecode left out), to see that runs add none."""
    return {
        path
        for path in FAULTS_DIR.rglob("*")
        if "__pycache__" not in path.parts and not path.name.endswith(".pyc")
    }


def error_line(stderr: str) -> str:
    """Return the last non-empty line of ``stderr``: where Django and argparse put the error."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""
