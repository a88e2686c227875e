"""Database configurations of real projects, on the real servers, through manage.py.

Each case broke on a real open-source suite before it was fixed: SQLite ``":memory:"`` settings
got an empty template; ``django.contrib.postgres`` made every warm run rebuild the template when
the real database did not exist; a migration module that queries the connection at import could
not load; rows written by ``post_migrate`` receivers and ``RunPython`` helpers of other modules
went stale. Also: a partial schema is never published, and a template that cannot be reached
is reported, never rebuilt.

The extra fixture apps are switched on by ``TEMPLATE_EXTRA_APPS`` and their cases run by label,
so the other tests of the template project never see them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import concurrent_test_app
from tests.projects import (
    LINE,
    Project,
    drop_server_databases,
    execute_in,
    make_project,
    naming_kind,
)

pytestmark = pytest.mark.filterwarnings("ignore")

BUILT = re.compile(r"^Built template for alias 'default'.* (\d+) migrations applied\.$", re.M)
REUSED = re.compile(r"^Reused template for alias 'default'", re.M)


def concurrent(project: Project, *labels: str, **env: str) -> subprocess.CompletedProcess[str]:
    return project.manage("concurrent_test", "--workers", "2", "--noinput", *labels, **env)


def serial(project: Project, *labels: str, **env: str) -> subprocess.CompletedProcess[str]:
    return project.manage("test", "--noinput", *labels, **env)


def final_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """Return the "Ran N tests" line and the verdict line unittest printed."""
    lines = done.stderr.splitlines()
    ran = [i for i, line in enumerate(lines) if line.startswith("Ran ")]
    assert ran, done.stdout + done.stderr
    verdict = next(line for line in lines[ran[-1] + 1 :] if line.strip())
    return [re.sub(r" in [\d.]+s$", "", lines[ran[-1]]), verdict]


def assert_serial_verdict(project: Project, *labels: str, **env: str) -> None:
    """Run serially and concurrently; assert equal final lines and exit status 0."""
    theirs, ours = serial(project, *labels, **env), concurrent(project, *labels, **env)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert final_lines(ours) == final_lines(theirs)


@pytest.fixture
def sqlite_memory(tmp_path: Path) -> Project:
    project = make_project(tmp_path, "sqlite")
    # In-memory settings put templates in the system's temporary folder: this test's own.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    project.env.update(SQLITE_MEMORY="1", TMPDIR=str(temporary))
    return project


@pytest.mark.parametrize("empty_test_name", [False, True], ids=["no-TEST", "TEST-NAME-empty"])
def test_sqlite_in_memory_settings_get_a_whole_template(
    sqlite_memory: Project, empty_test_name: bool
) -> None:
    env = {"SQLITE_EMPTY_TEST_NAME": "1" if empty_test_name else ""}
    cold = concurrent(sqlite_memory, **env)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    built = BUILT.search(cold.stderr)
    # Every migration of concurrent_test_app and shelf's three ran in the template.
    ours = len(list((Path(concurrent_test_app.__file__).parent / "migrations").glob("0*.py")))
    assert built and int(built[1]) == ours + 3, cold.stderr
    assert final_lines(cold) == ["Ran 3 tests", "OK"]
    warm = concurrent(sqlite_memory, **env)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert REUSED.search(warm.stderr) and not BUILT.search(warm.stderr), warm.stderr
    assert_serial_verdict(sqlite_memory, **env)


def test_contrib_postgres_without_the_real_database_reuses_its_template(tmp_path: Path) -> None:
    """The CI set-up: the server holds only test databases, the project's is never created."""
    project = make_project(tmp_path, "postgresql")
    env = {"TEMPLATE_EXTRA_APPS": "django.contrib.postgres", "MIGRATION_LOG": str(tmp_path / "m")}
    try:
        cold = concurrent(project, **env)
        assert cold.returncode == 0, cold.stdout + cold.stderr
        assert BUILT.search(cold.stderr), cold.stderr
        warm = concurrent(project, **env)
        assert warm.returncode == 0, warm.stdout + warm.stderr
        assert REUSED.search(warm.stderr) and not BUILT.search(warm.stderr), warm.stderr
        assert (tmp_path / "m").read_text().count("migrate default") == 1, "a warm run migrated"
        # History cannot be kept without the real database: said once, the run goes on.
        assert warm.stderr.count("Timing history is off") == 1, warm.stderr
        assert_serial_verdict(project, **env)
    finally:
        drop_server_databases("postgresql", project.prefix)


def test_a_migration_that_queries_the_connection_at_import(project: Project) -> None:
    env = {"TEMPLATE_EXTRA_APPS": "importquery"}
    labels = ("shelf", "importquery.cases")
    assert_serial_verdict(project, *labels, **env)
    warm = concurrent(project, *labels, **env)
    assert warm.returncode == 0 and REUSED.search(warm.stderr), warm.stdout + warm.stderr
    assert project.manage("build_test_template", "--check", **env).returncode == 0


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, path
    path.write_text(text.replace(old, new))


MORE_RECEIVERS = """EXTRA_COLOUR = "green"


def create_extra_colour(sender, using, apps=None, **kwargs):
    apps.get_model("defaults", "Colour").objects.using(using).get_or_create(name=EXTRA_COLOUR)
"""


def test_changed_data_code_rebuilds_the_template(project: Project) -> None:
    """Rows from a post_migrate receiver and from RunPython helpers of other modules."""
    env = {"TEMPLATE_EXTRA_APPS": "defaults"}
    app = project.path / "defaults"
    first = concurrent(project, "defaults.cases", **env)
    assert first.returncode == 0, first.stdout + first.stderr
    edits = {
        "a changed receiver": lambda: _edit(app / "receivers.py", '"red"', '"blue"'),
        "an added receiver": lambda: (
            (app / "more_receivers.py").write_text(MORE_RECEIVERS),
            _edit(
                app / "apps.py",
                "post_migrate.connect(create_default_colour, sender=self)",
                "post_migrate.connect(create_default_colour, sender=self)\n"
                "        from defaults.more_receivers import create_extra_colour\n\n"
                "        post_migrate.connect(create_extra_colour, sender=self)",
            ),
        ),
        "a RunPython function of another module": lambda: _edit(
            app / "seeding.py", '"circle"', '"square"'
        ),
        "a module a RunPython function refers to": lambda: _edit(
            app / "labels.py", '"round"', '"flat"'
        ),
    }
    for what, edit in edits.items():
        check = project.manage("build_test_template", "--check", **env)
        assert check.returncode == 0, (what, check.stdout)
        edit()
        check = project.manage("build_test_template", "--check", **env)
        assert check.returncode == 1 and "stale" in check.stdout, (what, check.stdout)
        run = concurrent(project, "defaults.cases", **env)
        assert run.returncode == 0, (what, run.stdout + run.stderr)
        assert BUILT.search(run.stderr), (what, run.stderr)
    assert_serial_verdict(project, "defaults.cases", **env)
    # The added receiver's case ran, not skipped, in both runs.
    assert "skipped" not in concurrent(project, "defaults.cases", **env).stderr


def test_a_partial_schema_is_never_published(project: Project) -> None:
    env = {"TEMPLATE_EXTRA_APPS": "partial"}
    for args in (("build_test_template",), ("concurrent_test", "--noinput")):
        done = project.manage(*args, **env)
        assert done.returncode == 2, done.stdout + done.stderr
        message = done.stderr.strip().splitlines()
        assert len(message) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "alias 'default' lacks 1 of the" in message[0], message
        assert "partial_ghost" in message[0], message
        assert "tpl" not in [naming_kind(name) for name in project.databases()]


def test_an_unreachable_template_is_reported_and_never_rebuilt(tmp_path: Path) -> None:
    project = make_project(tmp_path, "postgresql")
    try:
        built = project.build()
        execute_in(
            "postgresql", "postgres", f'ALTER DATABASE "{built["name"]}" ALLOW_CONNECTIONS false'
        )
        for args in (
            ("build_test_template", "--check"),
            ("build_test_template",),
            ("concurrent_test", "--noinput"),
        ):
            done = project.manage(*args)
            assert done.returncode == 2, (args, done.stdout + done.stderr)
            assert "Traceback" not in done.stderr, done.stderr
            assert f"Cannot read the template database '{built['name']}'" in done.stderr, (
                args,
                done.stderr,
            )
            assert "not currently accepting connections" in done.stderr
        assert project.databases() == [built["name"]], "the template was dropped or rebuilt"
    finally:
        drop_server_databases("postgresql", project.prefix)


def test_a_rebuild_says_why_at_verbosity_2(project: Project) -> None:
    first = project.manage("build_test_template", "-v", "2")
    assert "default: the template was missing: no template has been built yet" in first.stdout
    forced = project.manage("build_test_template", "-v", "2", "--force")
    assert "default: the template was forced" in forced.stdout
    run = concurrent(project, "-v", "2", "--rebuild-template")
    assert "Template for alias 'default' was forced" in run.stderr, run.stderr
    assert LINE.search(project.manage("build_test_template").stdout)["action"] == "reused"  # type: ignore[index]
