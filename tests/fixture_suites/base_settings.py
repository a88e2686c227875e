"""The settings every fixture project shares; each project's settings module star-imports them.

The tests run each project with the repository root on PYTHONPATH (a copy made elsewhere too),
so this module imports wherever the project is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ

__all__ = [
    "ALLOWED_HOSTS",
    "DEBUG",
    "DEFAULT_AUTO_FIELD",
    "MIDDLEWARE",
    "SECRET_KEY",
    "USE_TZ",
    "default_database",
    "env",
]

env = environ.Env()

SECRET_KEY = "fixture-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIDDLEWARE: list[str] = []


def default_database(sqlite_file: Path) -> dict[str, Any]:
    """Return the database DATABASE_URL names; without it, the SQLite file ``sqlite_file``."""
    return env.db("DATABASE_URL", default=f"sqlite:///{sqlite_file}")
