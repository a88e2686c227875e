"""Settings of the skewed fixture project: one database, read from DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

from tests.fixture_suites.base_settings import *  # the settings every fixture shares

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "concurrent_test_app",
    "sleepy",
]

# The real database holds the timing history; the tests point it at a temporary file.
DATABASES = {"default": default_database(BASE_DIR / "skewed.sqlite3")}
