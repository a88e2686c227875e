"""System checks: each settings or environment problem gets its stable id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import Error, Warning, run_checks

from concurrent_test_app import checks
from concurrent_test_app.checks import TAG, unsupported_engines

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DJANGO_TEST_"):
            monkeypatch.delenv(name)


def ids() -> list[str]:
    return sorted(str(message.id) for message in run_checks(tags=[TAG]))


def test_clean_settings_pass() -> None:
    assert ids() == []


def test_checks_are_registered_under_the_tag() -> None:
    from django.core.checks import registry

    assert TAG in registry.registry.tags_available()


def test_project_name(settings: Any) -> None:
    settings.PROJECT_NAME = ["shop"]
    [message] = checks.check_project_name()
    assert isinstance(message, Error)
    assert message.id == "concurrent_test_app.E001"
    assert message.msg.startswith("settings.PROJECT_NAME is ['shop']; set it to a short string")
    assert ids() == ["concurrent_test_app.E001"]


def test_logging(settings: Any) -> None:
    settings.CONCURRENT_TEST_LOGGING = {"format": "yaml"}
    assert ids() == ["concurrent_test_app.E002"]
    settings.CONCURRENT_TEST_LOGGING = 3
    [message] = checks.check_logging()
    assert "CONCURRENT_TEST_LOGGING must be a dict" in message.msg


def test_templates_to_keep(settings: Any) -> None:
    settings.CONCURRENT_TEST_TEMPLATES_TO_KEEP = "3"
    assert ids() == ["concurrent_test_app.E003"]


def test_ready_clones(settings: Any) -> None:
    settings.CONCURRENT_TEST_READY_CLONES = 1
    assert ids() == ["concurrent_test_app.E011"]


def test_split_classes(settings: Any) -> None:
    settings.CONCURRENT_TEST_SPLIT_CLASSES = "yes"
    [message] = checks.check_split_classes()
    assert message.msg == (
        "settings.CONCURRENT_TEST_SPLIT_CLASSES is 'yes'; set it to True or False."
    )
    assert ids() == ["concurrent_test_app.E012"]


def test_timings_file_not_a_path(settings: Any) -> None:
    settings.TEST_TIMINGS_FILE = 42
    [message] = checks.check_timings_file()
    assert message.id == "concurrent_test_app.E004"
    assert message.msg == (
        "settings.TEST_TIMINGS_FILE is 42; set it to a file path such as "
        "BASE_DIR / 'test_timings.json', or None."
    )


def test_timings_file_folder_missing(settings: Any, tmp_path: Path) -> None:
    settings.TEST_TIMINGS_FILE = str(tmp_path / "cache" / "timings.json")
    [message] = checks.check_timings_file()
    assert isinstance(message, Warning)
    assert message.id == "concurrent_test_app.W002"
    assert message.msg == (
        f"The folder of settings.TEST_TIMINGS_FILE ({tmp_path / 'cache' / 'timings.json'}) "
        f"does not exist; create {tmp_path / 'cache'} or point TEST_TIMINGS_FILE at an "
        "existing folder."
    )
    (tmp_path / "cache").mkdir()
    assert checks.check_timings_file() == []  # not there yet, but it can be written


def test_timings_file_unreadable(settings: Any, tmp_path: Path) -> None:
    timings = tmp_path / "timings.json"
    settings.TEST_TIMINGS_FILE = timings
    timings.write_text(json.dumps({"version": 1, "units": {"app.tests.A": {"seconds": 2.0}}}))
    assert checks.check_timings_file() == []
    timings.write_text("{not json")
    [message] = checks.check_timings_file()
    assert message.id == "concurrent_test_app.E005"
    assert "(from settings.TEST_TIMINGS_FILE) cannot be read as JSON" in message.msg
    settings.TEST_TIMINGS_FILE = tmp_path  # a folder
    assert ids() == ["concurrent_test_app.E005"]


def test_history_database(settings: Any) -> None:
    settings.CONCURRENT_TEST_HISTORY_DATABASE = "history"
    [message] = checks.check_history_database()
    assert message.id == "concurrent_test_app.E009"
    assert message.msg == (
        "settings.CONCURRENT_TEST_HISTORY_DATABASE is 'history', which is not in DATABASES; "
        "set it to one of 'default'."
    )


def test_environment_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_TIMEOUT", "an hour")
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "-3")
    messages = checks.check_environment()
    # The bad main timeout also breaks the per-worker and global defaults: reported once.
    assert [m.id for m in messages] == ["concurrent_test_app.E008"] * 2
    assert "DJANGO_TEST_TIMEOUT='an hour'" in messages[0].msg
    assert "DJANGO_TEST_MAX_WORKERS='-3'" in messages[1].msg


def test_worker_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_MIN_WORKERS", "8")
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "4")
    assert ids() == ["concurrent_test_app.E007"]
    [message] = checks.check_environment()
    assert message.msg.startswith("DJANGO_TEST_MIN_WORKERS=8 is above DJANGO_TEST_MAX_WORKERS=4")


def test_timeout_hierarchy_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_TIMEOUT_PER_TEST", "120")
    monkeypatch.setenv("DJANGO_TEST_TIMEOUT_PER_WORKER", "60")
    [message] = checks.check_environment()
    assert isinstance(message, Warning)
    assert message.id == "concurrent_test_app.W001"
    assert message.msg == (
        "[CONCURRENT] Test timeout (120s) should be less than worker timeout (60s)"
    )
    monkeypatch.setenv("DJANGO_TEST_TIMEOUT_GLOBAL", "60")
    assert [m.id for m in checks.check_environment()] == ["concurrent_test_app.W001"] * 2


# -- engines -------------------------------------------------------------------------------------


@pytest.fixture
def firebird_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return the dotted name of a real backend (SQLite's, renamed) whose vendor is unsupported."""
    package = tmp_path / "firebird_backend"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(
        "from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper\n\n\n"
        "class DatabaseWrapper(SQLiteWrapper):\n"
        "    vendor = 'firebird'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "firebird_backend"


def test_supported_engines() -> None:
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3"},
        "pg": {"ENGINE": "django.db.backends.postgresql"},
        "pg_old": {"ENGINE": "django.db.backends.postgresql_psycopg2"},
        "maria": {"ENGINE": "django.db.backends.mysql"},
        "none": {"ENGINE": "django.db.backends.dummy"},
    }
    assert unsupported_engines(databases=databases) == []
    assert unsupported_engines() == []
    assert checks.check_database_engines() == []


def test_unsupported_vendor(firebird_backend: str) -> None:
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3"},
        "legacy": {"ENGINE": firebird_backend},
    }
    assert unsupported_engines(databases=databases) == [
        "DATABASES['legacy'] uses the 'firebird' engine (firebird_backend), which "
        "concurrent_test does not support; use PostgreSQL, MySQL/MariaDB or SQLite."
    ]
    # Only the aliases asked about.
    assert unsupported_engines(["default"], databases=databases) == []


def test_engine_that_cannot_be_loaded() -> None:
    [problem] = unsupported_engines(databases={"x": {"ENGINE": "no.such.backend"}})
    assert problem.startswith(
        "DATABASES['x'] uses the engine 'no.such.backend', which cannot be loaded "
        "('no.such.backend' isn't an available database backend"
    )
    assert problem.endswith("; set ENGINE to a PostgreSQL, MySQL/MariaDB or SQLite backend.")
    assert "\n" not in problem


def run_check_command(tmp_path: Path, settings_text: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py check --tag concurrent_test`` for a throwaway settings module."""
    (tmp_path / "check_settings.py").write_text(textwrap.dedent(settings_text))
    script = (
        "import django, sys\n"
        "django.setup()\n"
        "import concurrent_test_app.checks\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', 'check', '--tag', 'concurrent_test'])\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_TEST_")},
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "check_settings",
        "DJANGO_TEST_MIN_WORKERS": "3",
        "DJANGO_TEST_MAX_WORKERS": "2",
    }
    return subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )


def test_manage_check_reports_every_id(tmp_path: Path, firebird_backend: str) -> None:
    base = f"""
        SECRET_KEY = "x"
        INSTALLED_APPS = ["django.contrib.contenttypes", "concurrent_test_app"]
        DATABASES = {{
            "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            "legacy": {{"ENGINE": "{firebird_backend}", "NAME": ":memory:"}},
        }}
        PROJECT_NAME = 5
        TEST_TIMINGS_FILE = {str(tmp_path / "missing" / "t.json")!r}
    """
    done = run_check_command(tmp_path, base)
    assert done.returncode == 1, done.stderr
    for check_id in ("E001", "W003", "E007", "W002"):
        assert f"(concurrent_test_app.{check_id})" in done.stderr, done.stderr
    assert "SILENCED_SYSTEM_CHECKS" in done.stderr
    silenced = (
        base
        + """
        SILENCED_SYSTEM_CHECKS = ["concurrent_test_app.W003"]
    """
    )
    done = run_check_command(tmp_path, silenced)
    assert "concurrent_test_app.W003" not in done.stderr
    assert "(concurrent_test_app.E001)" in done.stderr
