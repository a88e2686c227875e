"""Run one benchmark command on one vendor and measure it.

The runners compared, each ``manage.py`` in a subprocess of its own, timed from start to exit:

- ``django_serial``: ``manage.py test`` (Django's serial runner);
- ``django_parallel``: ``manage.py test --parallel N``;
- ``django_parallel_keepdb``: the same with ``--keepdb`` (its test databases kept from the
  warm-up, under a test database name of their own so the other runs never drop them);
- ``concurrent_cold``: ``manage.py concurrent_test --workers N --no-history`` after the
  project's templates were dropped (untimed): a template build and discovery order;
- ``concurrent_warm``: ``manage.py concurrent_test --workers N``: template reused, units
  handed out longest first from the timing history.

Every command runs with ``--timing``, so Django's "Total database setup took" line gives the
database set-up of each; ``concurrent_test`` also writes its JSON report (unit and test
durations, worker busy time) and its metrics file (clone seconds).
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import REPO_ROOT, BenchError
from .suites import SuiteProject

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = 900.0

# Only databases named like these are ever created or dropped by the bench.
_OWN_DATABASE = re.compile(r"^(test_)?bench_[a-z0-9_]+$")

_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
_SETUP = re.compile(r"^Total database setup took ([0-9.]+)s", re.MULTILINE)


# -- vendors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vendor:
    """One database vendor: how to reach it and how to create and drop the bench's databases."""

    name: str
    label: str
    host: str = ""
    port: int = 0

    @property
    def has_server(self) -> bool:
        return bool(self.host)

    def database_url(self, project: SuiteProject) -> str:
        """Return the DATABASE_URL of ``project``'s real database on this vendor."""
        if self.name == "sqlite":
            return f"sqlite:///{project.root / 'db-bench.sqlite3'}"
        if self.name == "postgresql":
            return f"postgres://postgres@{self.host}:{self.port}/{project.database}"
        return f"mysql://root@{self.host}:{self.port}/{project.database}"

    def reachable(self) -> bool:
        if not self.has_server:
            return True
        try:
            with socket.create_connection((self.host, self.port), timeout=2):
                return True
        except OSError:
            return False

    @contextmanager
    def _server(self) -> Iterator[Any]:
        """Yield a cursor on the server (autocommit), outside any bench database."""
        if self.name == "postgresql":
            import psycopg2

            pg = psycopg2.connect(
                host=self.host, port=self.port, user="postgres", dbname="postgres"
            )
            pg.autocommit = True
            try:
                with pg.cursor() as cursor:
                    yield cursor
            finally:
                pg.close()
        else:
            import MySQLdb

            my = MySQLdb.connect(host=self.host, port=self.port, user="root", passwd="")
            try:
                cursor = my.cursor()
                yield cursor
                cursor.close()
            finally:
                my.close()

    def server_version(self) -> str:
        if not self.has_server:
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        with self._server() as cursor:
            cursor.execute("SELECT version()")
            version = str(cursor.fetchone()[0])
        if self.name == "postgresql":
            return " ".join(version.split()[:2])
        return f"MariaDB {version.split('-')[0]}" if "mariadb" in version.lower() else version

    def _quote(self, name: str) -> str:
        if not _OWN_DATABASE.match(name):
            raise BenchError(f"Refusing to touch the database {name!r}: the bench did not name it.")
        return f'"{name}"' if self.name == "postgresql" else f"`{name}`"

    def create_database(self, name: str) -> None:
        """Create ``name`` on the server unless it exists."""
        if not self.has_server:
            return
        quoted = self._quote(name)
        with self._server() as cursor:
            if self.name == "postgresql":
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:
                    cursor.execute(f"CREATE DATABASE {quoted}")
            else:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS {quoted}")

    def drop_databases(self, names: list[str]) -> list[str]:
        """Drop those of ``names`` that exist; return the ones dropped."""
        if not self.has_server:
            return []
        dropped = []
        with self._server() as cursor:
            for name in names:
                quoted = self._quote(name)
                if self.name == "postgresql":
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                    if cursor.fetchone() is None:
                        continue
                    cursor.execute(f"DROP DATABASE {quoted} WITH (FORCE)")
                else:
                    cursor.execute(
                        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                        [name],
                    )
                    if cursor.fetchone() is None:
                        continue
                    cursor.execute(f"DROP DATABASE {quoted}")
                dropped.append(name)
        return dropped


VENDORS: dict[str, Vendor] = {
    "sqlite": Vendor("sqlite", "SQLite"),
    "postgresql": Vendor("postgresql", "PostgreSQL", "127.0.0.1", 5432),
    "mysql": Vendor("mysql", "MariaDB", "127.0.0.1", 3306),
}


# -- runners -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerSpec:
    """One way of running a suite."""

    key: str
    label: str
    concurrent: bool
    keepdb: bool = False
    parallel: bool = True
    cold: bool = False

    def arguments(self, workers: int, scratch: Path) -> list[str]:
        """Return the manage.py arguments (reports go into ``scratch``)."""
        if not self.concurrent:
            args = ["test", "--noinput", "--timing"]
            if self.parallel:
                args += ["--parallel", str(workers)]
            if self.keepdb:
                args.append("--keepdb")
            return args
        args = [
            "concurrent_test",
            "--noinput",
            "--timing",
            "--workers",
            str(workers),
            "--no-progress",
            "--json-report",
            str(scratch / "report.json"),
            "--metrics-file",
            str(scratch / "metrics.prom"),
        ]
        if self.cold:
            args.append("--no-history")
        return args

    def display(self, workers: int) -> str:
        return self.label.replace("N", str(workers))


RUNNERS: dict[str, RunnerSpec] = {
    spec.key: spec
    for spec in (
        RunnerSpec("django_serial", "Django test (serial)", concurrent=False, parallel=False),
        RunnerSpec("django_parallel", "Django test --parallel N", concurrent=False),
        RunnerSpec(
            "django_parallel_keepdb", "Django test --parallel N --keepdb", False, keepdb=True
        ),
        RunnerSpec("concurrent_cold", "concurrent_test cold", concurrent=True, cold=True),
        RunnerSpec("concurrent_warm", "concurrent_test warm", concurrent=True),
    )
}
BASELINE = "django_parallel"


def keepdb_test_database(project: SuiteProject) -> str:
    """Return the test database name Django's --keepdb runs use on a server."""
    return f"test_{project.database}_keepdb"


# -- running manage.py -------------------------------------------------------------------------


def environment(project: SuiteProject, vendor: Vendor, runner: RunnerSpec | None) -> dict[str, str]:
    """Return the environment a project's manage.py runs with on ``vendor``."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Settings of whoever started the bench (pytest, a shell) must not leak into the runs.
        if not key.startswith(("DJANGO_", "BENCH_")) and key not in ("DATABASE_URL",)
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": project.settings_module,
            "DATABASE_URL": vendor.database_url(project),
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    if runner is not None and runner.keepdb and vendor.has_server:
        env["BENCH_TEST_DATABASE_NAME"] = keepdb_test_database(project)
    return env


def manage(
    project: SuiteProject,
    vendor: Vendor,
    *args: str,
    runner: RunnerSpec | None = None,
    check: bool = True,
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``manage.py ARGS`` for ``project`` on ``vendor``; return it, its wall and CPU seconds."""
    command = [sys.executable, "manage.py", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command,
            cwd=project.root,
            env=environment(project, vendor, runner),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(
            f"{' '.join(args)} on {project.name}/{vendor.name} took over {COMMAND_TIMEOUT:.0f}s"
        ) from exc
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The command's CPU time, its workers' included (each waited for by its parent).
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-25:])
        raise BenchError(
            f"`python manage.py {' '.join(args)}` in {project.root} with DATABASE_URL="
            f"{vendor.database_url(project)} exited {completed.returncode}:\n{tail}"
        )
    return completed, wall, cpu


# -- measurements ------------------------------------------------------------------------------


@dataclass
class Measurement:
    """One timed command."""

    suite: str
    vendor: str
    runner: str
    round: int
    wall_seconds: float
    tests_run: int
    cpu_seconds: float = 0.0
    load_before: float = 0.0  # the one-minute load average as the command started
    db_setup_seconds: float | None = None
    # From concurrent_test's own reports:
    pool_wall_seconds: float | None = None
    unit_seconds: list[float] = field(default_factory=list)
    test_seconds: float | None = None
    busy_seconds: list[float] = field(default_factory=list)
    clone_seconds: list[float] = field(default_factory=list)
    template_seconds: float | None = None
    template_reused: bool | None = None

    def ideal(self, workers: int) -> float | None:
        """Return this run's ideal makespan: the unit sum over the workers, or the longest unit."""
        if not self.unit_seconds:
            return None
        return max(sum(self.unit_seconds) / workers, max(self.unit_seconds))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unit_seconds"] = [round(s, 4) for s in self.unit_seconds]
        data["clone_seconds"] = [round(s, 4) for s in self.clone_seconds]
        data["busy_seconds"] = [round(s, 4) for s in self.busy_seconds]
        return data


def clone_seconds_from_metrics(path: Path) -> list[float]:
    """Return the clone times the metrics file holds: their mean, once per observation.

    The file has the histogram's sum and count, not each observation, so each clone of the run
    counts as the run's mean clone time.
    """
    from prometheus_client.parser import text_string_to_metric_families

    total = count = 0.0
    for family in text_string_to_metric_families(path.read_text()):
        if family.name != "concurrent_test_clone_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    if not count:
        return []
    return [total / count] * int(count)


def measure(
    project: SuiteProject,
    vendor: Vendor,
    runner: RunnerSpec,
    *,
    workers: int,
    scratch: Path,
    round_number: int,
) -> Measurement:
    """Run ``runner`` once on ``project`` and ``vendor`` and return what it measured."""
    scratch.mkdir(parents=True, exist_ok=True)
    for leftover in ("report.json", "metrics.prom"):
        (scratch / leftover).unlink(missing_ok=True)
    if runner.cold:
        # Untimed: a cold run starts with no template (and reads no history: --no-history).
        manage(project, vendor, "bench_reset", "--templates")
    load = os.getloadavg()[0]
    completed, wall, cpu = manage(
        project, vendor, *runner.arguments(workers, scratch), runner=runner
    )
    output = completed.stdout + completed.stderr
    ran = _RAN.search(output)
    tests_run = int(ran.group(1)) if ran else 0
    if tests_run != project.shape.tests:
        raise BenchError(
            f"{runner.key} on {project.name}/{vendor.name} ran {tests_run} tests, "
            f"not the {project.shape.tests} generated."
        )
    setup = _SETUP.search(output)
    measurement = Measurement(
        suite=project.name,
        vendor=vendor.name,
        runner=runner.key,
        round=round_number,
        wall_seconds=wall,
        cpu_seconds=cpu,
        load_before=load,
        tests_run=tests_run,
        db_setup_seconds=float(setup.group(1)) if setup else None,
    )
    if runner.concurrent:
        _read_reports(measurement, scratch)
    return measurement


def _read_reports(measurement: Measurement, scratch: Path) -> None:
    report = json.loads((scratch / "report.json").read_text())
    measurement.pool_wall_seconds = float(report["summary"]["wall_seconds"])
    measurement.unit_seconds = [float(unit["seconds"]) for unit in report["units"]]
    measurement.test_seconds = sum(float(test["duration"] or 0) for test in report["tests"])
    measurement.busy_seconds = [float(worker["busy_seconds"]) for worker in report["workers"]]
    templates = report.get("templates") or []
    measurement.template_seconds = sum(float(t["seconds"]) for t in templates)
    measurement.template_reused = all(bool(t["reused"]) for t in templates)
    metrics = scratch / "metrics.prom"
    if metrics.exists():
        measurement.clone_seconds = clone_seconds_from_metrics(metrics)
    if measurement.db_setup_seconds is not None:
        # Django's set-up line includes its clones; concurrent_test clones as workers start.
        measurement.db_setup_seconds += sum(measurement.clone_seconds)


# -- preparing and cleaning up -----------------------------------------------------------------


# Untimed concurrent_test runs that write the history the warm runs read.
WARMUP_RUNS = 2


def prepare(project: SuiteProject, vendor: Vendor, *, workers: int, scratch: Path) -> None:
    """Make ``project`` ready on ``vendor``: its real database, no old templates or history.

    Then warm up, untimed: two full ``concurrent_test`` runs build the template and write the
    timing history the warm runs use (the first, without history, hands units out in discovery
    order, which leaves its last unit alone on a core and so misjudges its share), and a small
    Django ``--keepdb`` run creates the test databases the ``--keepdb`` runs keep.
    """
    vendor.create_database(project.database)
    if vendor.has_server:
        vendor.drop_databases(django_test_databases(project, workers))
    manage(project, vendor, "migrate", "--noinput", "-v", "0")
    manage(project, vendor, "bench_reset", "--templates", "--history")
    warm = RUNNERS["concurrent_warm"]
    for _ in range(WARMUP_RUNS):
        manage(project, vendor, *warm.arguments(workers, scratch), runner=warm)
    keepdb = RUNNERS["django_parallel_keepdb"]
    manage(
        project,
        vendor,
        *keepdb.arguments(workers, scratch),
        *project.warmup_labels,
        runner=keepdb,
    )


def django_test_databases(project: SuiteProject, workers: int) -> list[str]:
    """Return the names of every test database Django's runs may leave on a server."""
    names = []
    for base in (f"test_{project.database}", keepdb_test_database(project)):
        names.append(base)
        names += [f"{base}_{slot}" for slot in range(1, workers + 1)]
    return names


def cleanup(project: SuiteProject, vendor: Vendor, *, workers: int) -> list[str]:
    """Drop what the bench made for ``project`` on ``vendor``; return the databases dropped."""
    if not project.root.exists():
        return []
    if not vendor.has_server:
        manage(project, vendor, "bench_reset", "--templates", check=False)
        return []
    if vendor.reachable():
        manage(project, vendor, "bench_reset", "--templates", check=False)
        return vendor.drop_databases([*django_test_databases(project, workers), project.database])
    return []
