"""The template fixture project, copied per test, and direct access to the database servers.

Every database a copy makes starts with ``test_tplq_<random>``; :func:`drop_server_databases`
drops them. Used by the template, build-command, cloning and real-configuration tests.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests import dbserver
from tests.conftest import ROOT, database_url, run_manage

FIXTURE = Path(__file__).resolve().parent / "fixture_suites" / "template_project"
LINE = re.compile(
    r"^(?P<alias>\w+): (?P<name>\S+) fingerprint (?P<fp>[0-9a-f]{12}) "
    r"(?P<action>reused|built|incremental) in (?P<seconds>[\d.]+)s"
    r"(?:, (?P<applied>\d+) migrations applied)?(?:; schema (?P<schema>[0-9a-f]{12}))?$",
    re.M,
)

NEW_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shelf", "0003_seed")]

    operations = [
        migrations.AddField(
            model_name="book", name="isbn", field=models.CharField(default="", max_length=13)
        ),
    ]
"""


# -- direct access to the servers, for set-up checks and cleanup only --------------------------


def server_databases(vendor: str, prefix: str) -> list[str]:
    """Return the server's databases whose names start with ``prefix``."""
    return dbserver.databases(vendor, prefix=prefix)


def drop_server_databases(vendor: str, prefix: str) -> None:
    """Drop this test's own databases (every name starts with its unique prefix)."""
    assert prefix.startswith("test_tplq_") and len(prefix) > len("test_tplq_")
    dbserver.drop_databases(vendor, server_databases(vendor, prefix))


def drop_server_database(vendor: str, name: str) -> None:
    """Drop one database as a person at the server's console would, sessions or not."""
    dbserver.drop_database(vendor, name)


def execute_in(vendor: str, name: str, sql: str) -> None:
    """Run ``sql`` inside the database ``name`` (SQLite: a file path)."""
    if vendor == "sqlite":
        with sqlite3.connect(name) as connection:
            connection.execute(sql)
        return
    dbserver.execute(vendor, name, sql)


# -- the project under test ----------------------------------------------------------------------


@dataclass
class Project:
    path: Path
    vendor: str
    env: dict[str, str]
    prefix: str  # every database name of this project starts with it
    extra: list[Path] = field(default_factory=list)

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_manage(self.path, *args, env={**self.env, **env}, timeout=300)

    def build(self, *args: str, **env: str) -> re.Match[str]:
        done = self.manage("build_test_template", "-v", "2", *args, **env)
        assert done.returncode == 0, done.stdout + done.stderr
        match = LINE.search(done.stdout)
        assert match, done.stdout + done.stderr
        return match

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.path,
            env={**os.environ, "PYTHONPATH": str(ROOT), **self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def databases(self) -> list[str]:
        """Return this project's databases (SQLite: the files of its template folder)."""
        if self.vendor == "sqlite":
            folder = self.path / ".concurrent_test"
            return sorted(p.stem for p in folder.glob("*.sqlite3")) if folder.is_dir() else []
        return server_databases(self.vendor, self.prefix)

    def location(self, name: str) -> str:
        if self.vendor == "sqlite":
            return str(self.path / ".concurrent_test" / f"{name}.sqlite3")
        return name

    def copy(self, path: Path) -> Project:
        """Return a second project with the same settings module and database, elsewhere."""
        shutil.copytree(
            self.path, path, ignore=shutil.ignore_patterns(".concurrent_test", "*.sqlite3")
        )
        env = dict(self.env)
        if self.vendor == "sqlite":
            env["DATABASE_URL"] = database_url("sqlite", str(path / "db.sqlite3"))
        return Project(path, self.vendor, env, self.prefix)


def make_project(tmp_path: Path, vendor: str) -> Project:
    path = tmp_path / "project"
    shutil.copytree(FIXTURE, path, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    real = f"tplq_{uuid.uuid4().hex[:10]}"
    url = database_url(vendor, str(path / "db.sqlite3") if vendor == "sqlite" else real)
    # pytest-django exports DJANGO_SETTINGS_MODULE for the suite; the project needs its own.
    env = {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "template_project.settings"}
    return Project(path, vendor, env, f"test_{real}")


def add_migration(project: Project) -> None:
    (project.path / "shelf" / "migrations" / "0004_book_isbn.py").write_text(NEW_MIGRATION)


def naming_kind(name: str) -> str:
    from concurrent_test_app.databases import naming

    parsed = naming.parse(name)
    assert parsed is not None, name
    return parsed.kind
