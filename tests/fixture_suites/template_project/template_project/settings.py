"""Settings of the template fixture project: one database alias read from DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

from tests.fixture_suites.base_settings import *  # the settings every fixture shares

BASE_DIR = Path(__file__).resolve().parent.parent

ROOT_URLCONF = "template_project.urls"
INSTALLED_APPS = ["concurrent_test_app", "shelf"]
# More apps for the tests of real-world configurations: django.contrib.postgres, importquery
# (a migration that queries the connection at import), defaults (rows written by a post_migrate
# receiver and by RunPython helpers of other modules), partial (a migration that makes no table).
INSTALLED_APPS += env.list("TEMPLATE_EXTRA_APPS", default=[])

DATABASES = {"default": default_database(BASE_DIR / "template.sqlite3")}
if env.bool("TEMPLATE_MIRROR", default=False):
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

PROJECT_NAME = env("PROJECT_NAME", default=None)
CONCURRENT_TEST_TEMPLATES_TO_KEEP = env.int("TEMPLATES_TO_KEEP", default=3)
if env.bool("TEST_NO_MIGRATE", default=False):
    DATABASES["default"]["TEST"] = {"MIGRATE": False}
if env.str("TEST_DATABASE_FILE", default=""):  # SQLite: test on a file, not in memory
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_FILE")}
if env.bool("SQLITE_MEMORY", default=False):  # the most common test setting of all
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    if env.bool("SQLITE_EMPTY_TEST_NAME", default=False):
        DATABASES["default"]["TEST"] = {"NAME": ""}
CONCURRENT_TEST_READY_CLONES = env.bool("READY_CLONES", default=True)
