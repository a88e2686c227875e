"""Settings of the split fixture project: one database from DATABASE_URL, splitting from SPLIT."""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

SECRET_KEY = "split-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "concurrent_test_app",
    "pieces",
]

MIDDLEWARE: list[str] = []

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'split.sqlite3'}"),
}

# "off" turns class splitting off; anything else leaves the default (on).
if os.environ.get("SPLIT") == "off":
    CONCURRENT_TEST_SPLIT_CLASSES = False
elif os.environ.get("SPLIT") == "bad":
    CONCURRENT_TEST_SPLIT_CLASSES = "yes"
