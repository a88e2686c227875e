"""Running pytest on a project in a subprocess, for the tests of the pytest plugin.

:func:`run_pytest` runs it in a project folder with the repository first on the path;
:func:`outcomes` reads each test id's outcome from pytest's own ``--junitxml``;
:class:`Probe` reads what ``tests/pytest_probe.py`` saw (migrations, each worker's clone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import dbserver
from tests.conftest import ROOT, database_url

FIXTURE = ROOT / "tests" / "fixture_suites" / "pytest_project"
SAMPLE = ROOT / "sample_project"
PLUGIN = "concurrent_test_app.pytest_plugin"


def run_pytest(
    folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pytest ARGS`` in ``folder`` and return the completed process."""
    # The outer pytest exports DJANGO_SETTINGS_MODULE, which would beat the project's ini.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(ROOT)) if p)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=folder,
        env={**inherited, "PYTHONPATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def outcomes(junit: Path) -> dict[str, str]:
    """Return each test id's outcome in a JUnit XML file (passed, failed, error, skipped)."""
    result = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}.{case.get('name')}"
        outcome = "passed"
        for tag in ("skipped", "failure", "error"):
            if case.find(tag) is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
        result[test_id] = outcome
    return result


@dataclass
class Probe:
    """What ``tests/pytest_probe.py`` wrote during one session."""

    path: Path

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []

    def migrations(self) -> list[str]:
        return [line for line in self.lines() if line.startswith("migrate ")]

    def clones(self) -> dict[str, tuple[str, str]]:
        """Return per worker the template and database of its default alias."""
        found = {}
        for line in self.lines():
            kind, *rest = line.split(" ")
            if kind == "clone" and rest[1] == "default":
                found[rest[0]] = (rest[2], rest[3])
        return found

    def aliases(self, worker: str) -> list[str]:
        """Return the aliases that ``worker`` cloned."""
        return sorted(
            {line.split(" ")[2] for line in self.lines() if line.startswith(f"clone {worker} ")}
        )

    def env(self) -> dict[str, str]:
        self.path.unlink(missing_ok=True)
        return {"PYTEST_PROBE_FILE": str(self.path)}


@dataclass
class PytestProject:
    """A folder to run pytest in, on one vendor, whose server databases share one marker."""

    path: Path
    vendor: str
    env: dict[str, str]
    marker: str  # every server database of this project contains it

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_pytest(self.path, *args, env={**self.env, **env})

    def server_databases(self) -> list[str]:
        if self.vendor == "sqlite":
            return []
        return dbserver.databases(self.vendor, containing=self.marker)

    def drop(self) -> None:
        if self.vendor != "sqlite":
            assert self.marker.startswith("pyt_")
            dbserver.drop_databases(self.vendor, self.server_databases())


def make_project(tmp_path: Path, vendor: str, *, sample: bool = False) -> PytestProject:
    """Return the fixture project (a copy) or the sample project, on a database of its own."""
    if sample:
        path = SAMPLE
    else:
        path = tmp_path / "project"
        shutil.copytree(FIXTURE, path, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    marker = f"pyt_{uuid.uuid4().hex[:10]}"
    name = str(tmp_path / f"{marker}.sqlite3") if vendor == "sqlite" else marker
    url = database_url(vendor, name)
    # The project's own settings; a unique PROJECT_NAME gives SQLite templates of its own.
    env = {"DATABASE_URL": url, "PROJECT_NAME": marker}
    return PytestProject(path, vendor, env, marker)


@contextmanager
def made_project(tmp_path: Path, vendor: str) -> Iterator[PytestProject]:
    """Yield a copy of the fixture project on ``vendor``; drop its databases afterwards."""
    made = make_project(tmp_path, vendor)
    try:
        yield made
    finally:
        made.drop()
