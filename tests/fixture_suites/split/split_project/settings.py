"""Settings of the split fixture project: one database from DATABASE_URL, splitting from SPLIT."""

from __future__ import annotations

import os
from pathlib import Path

from tests.fixture_suites.base_settings import *  # the settings every fixture shares

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "concurrent_test_app",
    "pieces",
]

DATABASES = {"default": default_database(BASE_DIR / "split.sqlite3")}

# "off" turns class splitting off; anything else leaves the default (on).
if os.environ.get("SPLIT") == "off":
    CONCURRENT_TEST_SPLIT_CLASSES = False
elif os.environ.get("SPLIT") == "bad":
    CONCURRENT_TEST_SPLIT_CLASSES = "yes"
