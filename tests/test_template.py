"""Template databases on the real servers and SQLite, driven through manage.py in a copy of the
template fixture project: build then reuse, a new fingerprint after an edited migration,
--check, concurrent builds, a build killed half way, --prune, incremental updates, and a warm
concurrent_test run that migrates nothing.

Every database these tests make starts with ``test_tplq_<random>``, and each test drops its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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


def _server_connection(vendor: str) -> object:
    if vendor == "postgresql":
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres"
        )
        connection.autocommit = True
        return connection
    import MySQLdb

    return MySQLdb.connect(host="127.0.0.1", port=3306, user="root", password="")


def server_databases(vendor: str, prefix: str) -> list[str]:
    """Return the server's databases whose names start with ``prefix``."""
    connection = _server_connection(vendor)
    try:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        if vendor == "postgresql":
            cursor.execute("SELECT datname FROM pg_database")
        else:
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        return sorted(row[0] for row in cursor.fetchall() if row[0].startswith(prefix))
    finally:
        connection.close()  # type: ignore[attr-defined]


def drop_server_databases(vendor: str, prefix: str) -> None:
    """Drop this test's own databases (every name starts with its unique prefix)."""
    assert prefix.startswith("test_tplq_") and len(prefix) > len("test_tplq_")
    names = server_databases(vendor, prefix)
    connection = _server_connection(vendor)
    try:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        for name in names:
            if vendor == "postgresql":
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()  # type: ignore[attr-defined]


def execute_in(vendor: str, name: str, sql: str) -> None:
    """Run ``sql`` inside the database ``name`` (SQLite: a file path)."""
    if vendor == "sqlite":
        with sqlite3.connect(name) as connection:
            connection.execute(sql)
        return
    if vendor == "postgresql":
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=name)
    else:
        import MySQLdb

        connection = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", database=name)
    try:
        connection.cursor().execute(sql)
        connection.commit()
    finally:
        connection.close()


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


@pytest.fixture
def project(tmp_path: Path, vendor: str) -> Iterator[Project]:
    made = make_project(tmp_path, vendor)
    try:
        yield made
    finally:
        if vendor != "sqlite":
            drop_server_databases(vendor, made.prefix)


def add_migration(project: Project) -> None:
    (project.path / "shelf" / "migrations" / "0004_book_isbn.py").write_text(NEW_MIGRATION)


# -- tests ---------------------------------------------------------------------------------------


def test_build_then_reuse_then_rebuild_after_an_edited_migration(project: Project) -> None:
    assert project.manage("build_test_template", "--check").returncode == 1
    first = project.build()
    assert first["action"] == "built" and int(first["applied"]) >= 3
    again = project.build()
    assert (again["action"], again["name"], again["fp"]) == ("reused", first["name"], first["fp"])
    check = project.manage("build_test_template", "--check")
    assert check.returncode == 0 and "current" in check.stdout

    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    seed.write_text(seed.read_text() + "\n# edited\n")
    check = project.manage("build_test_template", "--check")
    assert check.returncode == 1 and "stale" in check.stdout, check.stdout
    rebuilt = project.build()
    # An edited file is never an incremental update: everything is migrated again.
    assert rebuilt["action"] == "built" and rebuilt["fp"] != first["fp"]
    assert rebuilt["schema"] == first["schema"]  # a comment changed nothing in the schema
    assert project.manage("build_test_template", "--check").returncode == 0
    assert {first["name"], rebuilt["name"]} <= set(project.databases())


def test_check_tells_a_template_altered_after_its_build(project: Project) -> None:
    built = project.build()
    execute_in(
        project.vendor, project.location(built["name"]), "CREATE TABLE intruder (id INTEGER)"
    )
    check = project.manage("build_test_template", "--check")
    assert check.returncode == 1 and "altered" in check.stdout, check.stdout


def test_two_builds_at_the_same_moment_build_once(project: Project) -> None:
    runs = [project.popen("build_test_template") for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    actions = sorted(LINE.search(out)["action"] for out, _err in outputs)  # type: ignore[index]
    assert actions == ["built", "reused"], outputs


def test_a_build_killed_half_way_is_cleaned_up_by_the_next(project: Project) -> None:
    run = project.popen("build_test_template", SLOW_MIGRATION="60")
    try:
        deadline = time.monotonic() + 60
        while not any("_bld_" in name for name in project.databases()):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.1)
        time.sleep(0.3)  # well inside the sleeping data migration
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate()
    assert any("_bld_" in name for name in project.databases())
    done = project.manage("build_test_template")
    assert done.returncode == 0, done.stderr
    assert "Dropped the half-built template" in done.stdout
    assert LINE.search(done.stdout)["action"] == "built"  # type: ignore[index]
    assert not any("_bld_" in name for name in project.databases())
    assert project.manage("build_test_template", "--check").returncode == 0


def test_prune_drops_only_this_projects_older_templates(project: Project, tmp_path: Path) -> None:
    old = project.build()
    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    seed.write_text(seed.read_text() + "\n# edited\n")
    current = project.build()
    neighbour = project.copy(tmp_path / "neighbour")  # same settings module, another folder
    theirs = neighbour.build()
    assert theirs["name"] not in (old["name"], current["name"])

    pruned = project.manage("build_test_template", "--prune", TEMPLATES_TO_KEEP="0")
    assert pruned.returncode == 0, pruned.stderr
    assert f"dropped {old['name']}" in pruned.stdout
    left = set(project.databases()) | set(neighbour.databases())
    assert current["name"] in left and theirs["name"] in left
    assert old["name"] not in left


def test_prune_keeps_the_newest_few(project: Project) -> None:
    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    names = []
    for edit in range(3):
        names.append(project.build()["name"])
        seed.write_text(seed.read_text() + f"\n# edit {edit}\n")
    current = project.build()["name"]
    pruned = project.manage("build_test_template", "--prune", TEMPLATES_TO_KEEP="1")
    assert pruned.returncode == 0, pruned.stderr
    left = set(project.databases())
    assert current in left and names[-1] in left
    assert not left & set(names[:-1])


def test_one_added_migration_is_applied_on_a_clone_of_the_older_template(project: Project) -> None:
    first = project.build()
    add_migration(project)
    updated = project.build()
    assert updated["action"] == "incremental", updated.group(0)
    assert updated["applied"] == "1"
    assert updated["fp"] != first["fp"]
    full = project.build("--force")
    assert full["action"] == "built" and int(full["applied"]) > 1
    assert full["schema"] == updated["schema"]
    assert full["schema"] != first["schema"]


def test_a_warm_concurrent_test_run_performs_no_migration(project: Project, tmp_path: Path) -> None:
    log = tmp_path / "migrations.log"
    cold = project.manage("concurrent_test", "--workers", "2", "--noinput", MIGRATION_LOG=str(log))
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert log.read_text().count("migrate default") == 1
    warm = project.manage("concurrent_test", "--workers", "2", "--noinput", MIGRATION_LOG=str(log))
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert log.read_text().count("migrate default") == 1, "the warm run migrated"
    # Its clones are gone; only the template stays.
    left = project.databases()
    assert [naming_kind(name) for name in left] == ["tpl"], left


def test_keepdb_reuses_worker_clones_while_the_fingerprint_matches(
    project: Project, tmp_path: Path
) -> None:
    if project.vendor == "sqlite":  # in memory there is nothing to keep: test on files
        project.env["TEST_DATABASE_FILE"] = str(project.path / "test_db.sqlite3")
    first = project.manage("concurrent_test", "--workers", "2", "--keepdb", "--noinput")
    assert first.returncode == 0, first.stdout + first.stderr
    # Two workers, one unit each: the slot that ran the TransactionTestCase is flushed and not
    # kept; the slot that ran only the TestCase is kept, and reused next time.
    kept = [name for name in project.databases() if naming_kind(name) == "w"]
    assert len(kept) == 1, project.databases()
    again = project.manage("concurrent_test", "--workers", "2", "--keepdb", "--noinput")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len([name for name in project.databases() if naming_kind(name) == "w"]) == 1
    add_migration(project)
    third = project.manage("concurrent_test", "--workers", "2", "--keepdb", "--noinput")
    assert third.returncode == 0, third.stdout + third.stderr
    now = [name for name in project.databases() if naming_kind(name) == "w"]
    assert not set(now) & set(kept)  # the stale kept clones went


def test_keepdb_never_keeps_a_clone_a_transaction_test_case_flushed(
    project: Project, tmp_path: Path
) -> None:
    """One worker runs the TestCase, then the TransactionTestCase, whose flush empties the
    clone; keeping that clone would make the next run's TestCase miss the template's rows."""
    if project.vendor == "sqlite":
        project.env["TEST_DATABASE_FILE"] = str(project.path / "test_db.sqlite3")
    args = ("concurrent_test", "--workers", "1", "--scheduler", "discovery", "--keepdb")
    for _ in range(2):
        done = project.manage(*args, "--noinput")
        assert done.returncode == 0, done.stdout + done.stderr
        assert [n for n in project.databases() if naming_kind(n) == "w"] == [], project.databases()


def naming_kind(name: str) -> str:
    from concurrent_test_app import naming

    parsed = naming.parse(name)
    assert parsed is not None, name
    return parsed.kind
