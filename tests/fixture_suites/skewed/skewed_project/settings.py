"""Settings of the skewed fixture project: one database, read from DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

SECRET_KEY = "skewed-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "concurrent_test_app",
    "sleepy",
]

MIDDLEWARE: list[str] = []

# The real database holds the timing history; the tests point it at a temporary file.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'skewed.sqlite3'}"),
}
