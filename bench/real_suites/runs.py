"""Run one real suite on one vendor under one runner, timed, and read back each id's outcome.

The runners, each a ``manage.py`` (or ``django-admin``) subprocess in the project's virtualenv:

- ``serial`` and ``serial_again``: ``test --parallel 1`` with the recording runner;
- ``django_parallel``: ``test --parallel 2`` with the recording runner;
- ``concurrent_cold``: ``concurrent_test --workers 2 --rebuild-template --json-report ..``;
- ``concurrent_warm``: the same without ``--rebuild-template``: the template is reused, and
  units are ordered (and a bounding class split) by the timings file the cold run wrote.

Before a suite runs on a vendor, its real databases are dropped (a SQLite file removed): as on
a usual CI machine, the server holds only test databases.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import RealSuitesError
from .projects import Project

logger = logging.getLogger(__name__)

RUNNERS = ("serial", "serial_again", "django_parallel", "concurrent_cold", "concurrent_warm")
RUNNER_TITLES = {
    "serial": "Django serial",
    "serial_again": "Django serial, again",
    "django_parallel": "Django --parallel 2",
    "concurrent_cold": "concurrent_test cold",
    "concurrent_warm": "concurrent_test warm",
}
OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "expected_failure",
    "unexpected_success",
    "not_run",
)
WORKERS = 2
# Longest a single run may take before it is stopped and reported as such.
RUN_TIMEOUT = 3600.0

# Databases the harness never drops, whatever a project's settings name.
_PROTECTED = {
    "",
    "postgres",
    "template0",
    "template1",
    "mysql",
    "information_schema",
    "performance_schema",
    "sys",
    "test",
}
_TEMPLATE_LINE = re.compile(
    r"^(Reused|Built|Updated) template for alias '([^']+)'.*? in ([0-9.]+)s"
    r"(?:, (\d+) migrations applied)?",
    re.MULTILINE,
)
_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)

_DESCRIBE = """
import json
from django.conf import settings
print(json.dumps({
    alias: {"ENGINE": db["ENGINE"], "NAME": str(db.get("NAME") or ""),
            "TEST_NAME": (db.get("TEST") or {}).get("NAME")}
    for alias, db in settings.DATABASES.items()
}))
"""


@dataclass
class RunResult:
    """What one runner did: exit status, wall time, every id's outcome, templates it used."""

    runner: str
    command: list[str]
    exit_status: int
    wall_seconds: float
    outcomes: dict[str, str]
    tests_run: int | None
    log: str
    templates: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""

    def counts(self) -> dict[str, int]:
        """Return how many ids have each outcome."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def migrations_applied(self) -> int | None:
        """Return the migrations this run applied to its templates (None: not a template run)."""
        if not self.templates:
            return None
        return sum(template["applied"] for template in self.templates)


def describe_databases(project: Project, vendor: str) -> dict[str, dict[str, Any]]:
    """Return each alias's engine, name and test name as the settings for ``vendor`` give."""
    completed = subprocess.run(
        [str(project.python), "-c", _DESCRIBE],
        cwd=project.cwd,
        env=project.environ(vendor),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RealSuitesError(
            f"the settings of {project.name} on {vendor} do not load: {completed.stderr[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def drop_real_databases(project: Project, databases: dict[str, dict[str, Any]]) -> list[str]:
    """Make sure each alias's real database is absent (drop it, remove a file); return them."""
    dropped = []
    for db in databases.values():
        engine, name = db["ENGINE"], db["NAME"]
        if name in _PROTECTED:
            continue
        if "sqlite" in engine:
            if name.startswith("file:") or name == ":memory:":
                continue
            path = (project.cwd / name).resolve()
            if path.is_relative_to(project.checkout) and path.exists():
                path.unlink()
                dropped.append(str(path))
        elif "postgresql" in engine:
            sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            _server(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql])
            dropped.append(name)
        elif "mysql" in engine:
            _server(["mysql", "-h127.0.0.1", "-uroot", "-e", f"DROP DATABASE IF EXISTS `{name}`"])
            dropped.append(name)
    return dropped


def _server(command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RealSuitesError(f"{' '.join(command)} failed: {completed.stderr.strip()}")


def run(project: Project, vendor: str, runner: str, logs: Path) -> RunResult:
    """Run ``project``'s suite on ``vendor`` under ``runner`` and return what it did."""
    logs.mkdir(parents=True, exist_ok=True)
    report = logs / f"{vendor}-{runner}.json"
    report.unlink(missing_ok=True)
    env = project.environ(vendor)
    labels = list(project.labels)
    if runner.startswith("concurrent"):
        args = ["concurrent_test", *labels, "--noinput", "--workers", str(WORKERS)]
        args += ["--json-report", str(report)]
        if runner == "concurrent_cold":
            args.append("--rebuild-template")
            # The warm run that follows uses this run's timings, and no older ones.
            project.timings_file(vendor).unlink(missing_ok=True)
    else:
        parallel = WORKERS if runner == "django_parallel" else 1
        args = ["test", *labels, "--noinput", "--parallel", str(parallel)]
        args += ["--testrunner", "recorder.RecordingRunner"]
        env["REAL_SUITES_RECORD"] = str(report)
    command = project.command(*args)
    logger.info("%s %s %s: %s", project.name, vendor, runner, " ".join(command))
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command,
            cwd=project.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        status, stdout, stderr = completed.returncode, completed.stdout, completed.stderr
    except subprocess.TimeoutExpired as exc:
        status = -1
        stdout = _text(exc.stdout)
        stderr = _text(exc.stderr) + f"\n[real_suites] stopped after {RUN_TIMEOUT:.0f}s\n"
    wall = time.monotonic() - started
    log = logs / f"{vendor}-{runner}.log"
    log.write_text(f"$ {' '.join(command)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    result = RunResult(runner, command, status, round(wall, 2), {}, None, str(log))
    result.templates = [
        {"action": m[0].lower(), "alias": m[1], "seconds": float(m[2]), "applied": int(m[3] or 0)}
        for m in _TEMPLATE_LINE.findall(stderr)
    ]
    ran = _RAN.findall(stderr)
    result.tests_run = int(ran[-1]) if ran else None
    if not report.exists():
        result.problem = f"no report written (exit status {status}): {_last_error(stderr)}"
        return result
    data = json.loads(report.read_text())
    if runner.startswith("concurrent"):
        result.outcomes = {test["id"]: test["outcome"] for test in data.get("tests", [])}
        result.tests_run = data.get("summary", {}).get("tests_run", result.tests_run)
    else:
        result.outcomes = dict(data["outcomes"])
        result.tests_run = data["tests_run"]
    return result


def _last_error(stderr: str) -> str:
    """Return the last line of ``stderr`` that names an error, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error:" in line]
    return (errors or lines or ["(nothing on standard error)"])[-1][:300]


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
