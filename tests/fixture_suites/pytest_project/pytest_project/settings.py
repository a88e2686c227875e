"""Settings of the pytest fixture project: one alias from DATABASE_URL, a mirror on request."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

SECRET_KEY = "pytest-project-not-secret"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "concurrent_test_app", "notes"]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'pytest.sqlite3'}"),
}
if env.str("TEST_DATABASE_FILE", default=""):  # SQLite: test on a file, not in memory
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_FILE")}
PROJECT_NAME = env("PROJECT_NAME", default="pyproj")
TEST_TIMINGS_FILE = env.str("TEST_TIMINGS_FILE", default="") or None
if env.str("PYTEST_OTHER_DB", default=""):  # a second alias, for tests that name it
    DATABASES["other"] = env.db("PYTEST_OTHER_DB")
