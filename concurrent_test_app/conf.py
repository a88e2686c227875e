"""The one place that reads Django settings and environment variables.

Every value is a typed property with its default, read when asked for, so that
``override_settings`` and a changed environment are honoured. A bad value raises
:class:`~concurrent_test_app.exceptions.ConfigurationError` naming its source and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ
from django.conf import settings

from .exceptions import ConfigurationError

# Long enough that a healthy 30-minute suite is never cut short: one work unit may take up
# to an hour, the whole run two.
DEFAULT_MAIN_TIMEOUT = 3600.0
DEFAULT_TIMEOUT_PER_TEST = 30.0
DEFAULT_MIN_WORKERS = 2
DEFAULT_MAX_WORKERS = 16
DEFAULT_MEMORY_PER_WORKER_MB = 512.0
DEFAULT_TEMPLATES_TO_KEEP = 3


class _Settings:
    """Typed access to the app's settings and environment variables."""

    def __init__(self) -> None:
        self._env = environ.Env()

    # -- helpers -------------------------------------------------------------------------

    def _env_number(self, name: str, default: float | None, *, integer: bool = False) -> Any:
        raw = os.environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number of seconds"
            raise ConfigurationError(
                f"The environment variable {name}={raw!r} is not {kind}; "
                f"set it to {kind} such as {int(default or 1)}, or unset it."
            ) from None
        if value < 0 or (integer and value == 0):
            raise ConfigurationError(
                f"The environment variable {name}={raw!r} must be positive; "
                f"set it to a value above 0, or unset it."
            )
        return value

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    # -- timeouts (seconds) ----------------------------------------------------------------

    @property
    def main_timeout(self) -> float:
        """Return DJANGO_TEST_TIMEOUT, the base of the per-worker and global defaults."""
        return float(self._env_number("DJANGO_TEST_TIMEOUT", DEFAULT_MAIN_TIMEOUT))

    @property
    def timeout_per_test(self) -> float:
        return float(self._env_number("DJANGO_TEST_TIMEOUT_PER_TEST", DEFAULT_TIMEOUT_PER_TEST))

    @property
    def timeout_per_worker(self) -> float:
        return float(self._env_number("DJANGO_TEST_TIMEOUT_PER_WORKER", self.main_timeout))

    @property
    def timeout_global(self) -> float:
        return float(self._env_number("DJANGO_TEST_TIMEOUT_GLOBAL", 2 * self.main_timeout))

    # -- workers -----------------------------------------------------------------------------

    @property
    def min_workers(self) -> int:
        return int(self._env_number("DJANGO_TEST_MIN_WORKERS", DEFAULT_MIN_WORKERS, integer=True))

    @property
    def max_workers(self) -> int:
        return int(self._env_number("DJANGO_TEST_MAX_WORKERS", DEFAULT_MAX_WORKERS, integer=True))

    @property
    def worker_max_memory_mb(self) -> float | None:
        value = self._env_number("DJANGO_TEST_WORKER_MAX_MEMORY_MB", None)
        return None if value is None else float(value)

    # -- settings ----------------------------------------------------------------------------

    @property
    def project_name(self) -> str | None:
        """Return settings.PROJECT_NAME, used in template database names."""
        value = self._setting("PROJECT_NAME", None)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(
                f"settings.PROJECT_NAME is {value!r}; set it to a short string such as 'shop'."
            )
        return value or None

    @property
    def timings_file(self) -> Path | None:
        """Return settings.TEST_TIMINGS_FILE as a path, or None."""
        value = self._setting("TEST_TIMINGS_FILE", None)
        return Path(value) if value else None

    @property
    def logging(self) -> dict[str, Any]:
        """Return settings.CONCURRENT_TEST_LOGGING: {"format": "keyvalue"|"json", "file": path}."""
        value = self._setting("CONCURRENT_TEST_LOGGING", None) or {}
        if isinstance(value, str):
            value = {"format": value}
        if not isinstance(value, dict):
            raise ConfigurationError(
                "settings.CONCURRENT_TEST_LOGGING must be a dict such as "
                "{'format': 'json', 'file': 'workers.log'} or one of 'keyvalue', 'json'."
            )
        fmt = value.get("format", "keyvalue")
        if fmt not in ("keyvalue", "json"):
            raise ConfigurationError(
                f"settings.CONCURRENT_TEST_LOGGING['format'] is {fmt!r}; "
                "use 'keyvalue' (the default) or 'json'."
            )
        return {"format": fmt, "file": value.get("file")}

    @property
    def history_database(self) -> str:
        """Return the alias that timing history is written to (CONCURRENT_TEST_HISTORY_DATABASE)."""
        return str(self._setting("CONCURRENT_TEST_HISTORY_DATABASE", "default"))

    @property
    def templates_to_keep(self) -> int:
        """Return how many templates of other fingerprints ``--prune`` keeps."""
        value = self._setting("CONCURRENT_TEST_TEMPLATES_TO_KEEP", DEFAULT_TEMPLATES_TO_KEEP)
        if not isinstance(value, int) or value < 0:
            raise ConfigurationError(
                f"settings.CONCURRENT_TEST_TEMPLATES_TO_KEEP is {value!r}; "
                "set it to a whole number of 0 or more."
            )
        return value

    @property
    def memory_per_worker_mb(self) -> float:
        return float(
            self._env_number("DJANGO_TEST_MEMORY_PER_WORKER_MB", DEFAULT_MEMORY_PER_WORKER_MB)
        )

    @property
    def is_ci(self) -> bool:
        return self._env.bool("CI", default=False)


app_settings = _Settings()
