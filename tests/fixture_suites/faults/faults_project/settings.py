"""Settings of the faults fixture project: one database read from DATABASE_URL.

``FAULTS_VARIANT`` selects a deliberately broken variant, so that the bad-input tests can show
how ``concurrent_test`` refuses each bad setting (see ``VARIANTS`` below).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.fixture_suites.base_settings import *  # the settings every fixture shares

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "concurrent_test_app",
    "mishaps",
]

# The tests point DATABASE_URL at a temporary file or at a database named for their session.
DATABASES = {"default": default_database(BASE_DIR / "faults.sqlite3")}

# Set, the SQLite tests run on database files (templates and clones are files too) instead of
# Django's default in-memory test database.
_sqlite_test_file = env.str("FAULTS_SQLITE_TEST_FILE", default="")
if _sqlite_test_file and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": _sqlite_test_file}

# The bad-input tests point it at files that are not timings files.
TEST_TIMINGS_FILE = env.str("FAULTS_TIMINGS_FILE", default="") or None

# Each variant replaces settings with a value concurrent_test must refuse with exit status 2.
VARIANTS: dict[str, dict[str, Any]] = {
    "project_name_not_a_string": {"PROJECT_NAME": 42},
    "logging_not_a_dict": {"CONCURRENT_TEST_LOGGING": ["json"]},
    "logging_unknown_format": {"CONCURRENT_TEST_LOGGING": {"format": "xml"}},
    "timings_file_not_a_path": {"TEST_TIMINGS_FILE": 42},
    "templates_to_keep_negative": {"CONCURRENT_TEST_TEMPLATES_TO_KEEP": -1},
    "ready_clones_not_a_bool": {"CONCURRENT_TEST_READY_CLONES": "yes"},
    "history_database_unknown": {"CONCURRENT_TEST_HISTORY_DATABASE": "archive"},
    "oracle_engine": {
        "DATABASES": {"default": {"ENGINE": "django.db.backends.oracle", "NAME": "faults"}}
    },
    "missing_engine": {
        "DATABASES": {"default": {"ENGINE": "acme_db.backends.hana", "NAME": "faults"}}
    },
    # A backend that loads fine but whose vendor the app cannot clone.
    "unsupported_vendor": {
        "DATABASES": {
            "default": {
                "ENGINE": "faults_project.acme_backend",
                "NAME": ":memory:",
            }
        }
    },
}

_variant = env.str("FAULTS_VARIANT", default="")
if _variant:
    globals().update(VARIANTS[_variant])

# Set to a file's path, the first process forked after set-up (the first worker) removes the
# file and dies while it starts, before it is ready for work: exactly one start-up death.
_startup_marker = env.str("FAULTS_STARTUP_MARKER", default="")


def _die_at_startup() -> None:
    try:
        os.unlink(_startup_marker)
    except FileNotFoundError:
        return
    os._exit(3)


if _startup_marker:
    os.register_at_fork(after_in_child=_die_at_startup)
