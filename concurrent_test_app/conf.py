"""The one place that reads Django settings and environment variables.

Every value is a typed property with its default, read when asked for, so that
``override_settings`` and a changed environment are honoured. A bad value raises
:class:`~concurrent_test_app.exceptions.ConfigurationError` naming its source and the fix.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import environ
from django.conf import settings

from concurrent_test_app.exceptions import ConfigurationError

# Long enough that a healthy 30-minute suite is never cut short: one work unit may take up
# to an hour, the whole run two.
DEFAULT_MAIN_TIMEOUT = 3600.0
DEFAULT_TIMEOUT_PER_TEST = 30.0
DEFAULT_MIN_WORKERS = 2
DEFAULT_MAX_WORKERS = 16
DEFAULT_MEMORY_PER_WORKER_MB = 512.0
DEFAULT_TEMPLATES_TO_KEEP = 3
# Dispatch pauses while less than this much memory is available (0 turns the pause off).
DEFAULT_MEMORY_FLOOR_MB = 256.0
# With --adaptive-timeouts a test's limit is max(floor, multiple x its p95 duration): a test that
# normally takes 50 ms is stopped after 5 s instead of the 30 s everyone else gets.
DEFAULT_ADAPTIVE_TIMEOUT_FLOOR = 5.0
DEFAULT_ADAPTIVE_TIMEOUT_MULTIPLE = 10.0
# As pytest-xdist's --max-worker-restart default: four restarts per worker slot over the run.
DEFAULT_RESTARTS_PER_WORKER = 4
# How long build_test_template --force / --prune waits for the runs holding a template: long
# enough for a run's set-up or a short suite to end, short enough that CI says who is in the way.
DEFAULT_TEMPLATE_WAIT = 300.0

# Every environment variable the app reads, and the property of ``app_settings`` that reads it.
ENVIRONMENT_PROPERTIES = (
    ("DJANGO_TEST_TIMEOUT", "main_timeout"),
    ("DJANGO_TEST_TIMEOUT_PER_TEST", "timeout_per_test"),
    ("DJANGO_TEST_TIMEOUT_PER_WORKER", "timeout_per_worker"),
    ("DJANGO_TEST_TIMEOUT_GLOBAL", "timeout_global"),
    ("DJANGO_TEST_MIN_WORKERS", "min_workers"),
    ("DJANGO_TEST_MAX_WORKERS", "max_workers"),
    ("DJANGO_TEST_WORKER_MAX_MEMORY_MB", "worker_max_memory_mb"),
    ("DJANGO_TEST_MEMORY_PER_WORKER_MB", "memory_per_worker_mb"),
    ("DJANGO_TEST_MEMORY_FLOOR_MB", "memory_floor_mb"),
    ("DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR", "adaptive_timeout_floor"),
    ("DJANGO_TEST_ADAPTIVE_TIMEOUT_MULTIPLE", "adaptive_timeout_multiple"),
    ("DJANGO_TEST_MAX_WORKER_RESTARTS", "max_worker_restarts"),
    ("DJANGO_TEST_TEMPLATE_WAIT", "template_wait"),
)
# The settings the app reads, by the property that reads and checks each.
SETTING_PROPERTIES = (
    ("PROJECT_NAME", "project_name"),
    ("CONCURRENT_TEST_LOGGING", "logging"),
    ("CONCURRENT_TEST_TEMPLATES_TO_KEEP", "templates_to_keep"),
    ("TEST_TIMINGS_FILE", "timings_file"),
    ("CONCURRENT_TEST_FINGERPRINT_FILES", "fingerprint_files"),
    ("CONCURRENT_TEST_READY_CLONES", "ready_clones"),
    ("CONCURRENT_TEST_SPLIT_CLASSES", "split_classes"),
)


def _float(text: str) -> float:
    """Return ``text`` as Python reads a float.

    django-environ's own float cast drops every character but digits, signs, dots and commas,
    so it would read "1e3" as 13 and "nan" as an error of another kind; its int cast is used
    as it is.
    """
    return float(text)


class _Settings:
    """Typed access to the app's settings and environment variables."""

    def __init__(self) -> None:
        self._env = environ.Env()

    # -- helpers -------------------------------------------------------------------------

    def _env_number(
        self,
        name: str,
        default: float | None,
        *,
        integer: bool = False,
        unit: str = "seconds",
        allow_zero: bool | None = None,
    ) -> Any:
        """Return environment variable ``name`` as a number, or ``default`` when unset or empty.

        Whole numbers must be 1 or more and other numbers 0 or more, unless ``allow_zero`` says
        otherwise; ``unit`` only words the error message.
        """
        raw = os.environ.get(name, "")
        if not raw.strip():  # an empty value means the default, as an unset one does
            return default
        if allow_zero is None:
            allow_zero = not integer
        try:
            value = self._env.get_value(name, cast=int if integer else _float, default=None)
        except ValueError:
            kind = "a whole number" if integer else f"a number of {unit}"
            raise ConfigurationError(
                f"The environment variable {name}={raw!r} is not {kind}; "
                f"set it to {kind} such as {int(default or 1)}, or unset it."
            ) from None
        if value is None:  # django-environ's "$OTHER" names another variable, which is unset
            return default
        if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
            lowest = "0 or more" if allow_zero else ("1 or more" if integer else "above 0")
            raise ConfigurationError(
                f"The environment variable {name}={raw!r} is out of range; "
                f"set it to a value of {lowest}, or unset it."
            )
        return value

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    def validate(self) -> None:
        """Read every setting and environment variable; raise the first ConfigurationError.

        Call it before anything starts, so a bad value stops the run with exit status 2
        instead of surfacing half-way through.
        """
        for _, prop in SETTING_PROPERTIES + ENVIRONMENT_PROPERTIES:
            getattr(self, prop)
        self.check_worker_bounds()

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
        value = self._env_number("DJANGO_TEST_WORKER_MAX_MEMORY_MB", None, unit="megabytes")
        return None if value is None else float(value)

    def check_worker_bounds(self) -> None:
        """Raise ConfigurationError if DJANGO_TEST_MIN_WORKERS is above DJANGO_TEST_MAX_WORKERS."""
        low, high = self.min_workers, self.max_workers
        if low > high:
            raise ConfigurationError(
                f"DJANGO_TEST_MIN_WORKERS={low} is above DJANGO_TEST_MAX_WORKERS={high}; "
                "lower DJANGO_TEST_MIN_WORKERS or raise DJANGO_TEST_MAX_WORKERS."
            )

    @property
    def max_worker_restarts(self) -> int | None:
        """Return DJANGO_TEST_MAX_WORKER_RESTARTS (0 allowed: never restart), or None if unset."""
        value = self._env_number(
            "DJANGO_TEST_MAX_WORKER_RESTARTS", None, integer=True, allow_zero=True
        )
        return None if value is None else int(value)

    def restart_cap(self, workers: int) -> int:
        """Return how many worker restarts a run of ``workers`` workers may make in all."""
        configured = self.max_worker_restarts
        if configured is not None:
            return configured
        return DEFAULT_RESTARTS_PER_WORKER * max(1, workers)

    @property
    def template_wait(self) -> float:
        """Return DJANGO_TEST_TEMPLATE_WAIT: how long a build waits for runs holding a template.

        0 means not at all: a template that a run holds is an error at once.
        """
        return float(
            self._env_number("DJANGO_TEST_TEMPLATE_WAIT", DEFAULT_TEMPLATE_WAIT, allow_zero=True)
        )

    @property
    def memory_floor_mb(self) -> float:
        """Return DJANGO_TEST_MEMORY_FLOOR_MB: below it no new unit is handed out (0: never)."""
        return float(
            self._env_number(
                "DJANGO_TEST_MEMORY_FLOOR_MB", DEFAULT_MEMORY_FLOOR_MB, unit="megabytes"
            )
        )

    # -- adaptive timeouts -------------------------------------------------------------------

    @property
    def adaptive_timeout_floor(self) -> float:
        """Return DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR, the least limit an adaptive timeout gives."""
        return float(
            self._env_number(
                "DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR",
                DEFAULT_ADAPTIVE_TIMEOUT_FLOOR,
                allow_zero=False,
            )
        )

    @property
    def adaptive_timeout_multiple(self) -> float:
        """Return DJANGO_TEST_ADAPTIVE_TIMEOUT_MULTIPLE, the factor applied to a test's p95."""
        name = "DJANGO_TEST_ADAPTIVE_TIMEOUT_MULTIPLE"
        value = float(
            self._env_number(name, DEFAULT_ADAPTIVE_TIMEOUT_MULTIPLE, unit="times the p95")
        )
        if value < 1:
            raise ConfigurationError(
                f"The environment variable {name}={os.environ.get(name)!r} would stop tests "
                "before their usual duration; set it to 1 or more (default 10), or unset it."
            )
        return value

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
        if value and not isinstance(value, (str, os.PathLike)):
            raise ConfigurationError(
                f"settings.TEST_TIMINGS_FILE is {value!r}; "
                "set it to a file path such as BASE_DIR / 'test_timings.json', or None."
            )
        return Path(value) if value else None

    @property
    def fingerprint_files(self) -> list[str]:
        """Return settings.CONCURRENT_TEST_FINGERPRINT_FILES: more files or globs to fingerprint.

        For data that the code writing a template's rows reads (a fixture, a CSV), which the
        fingerprint cannot see by itself.
        """
        value = self._setting("CONCURRENT_TEST_FINGERPRINT_FILES", None) or []
        if isinstance(value, (str, os.PathLike)):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(item, (str, os.PathLike)) for item in value
        ):
            raise ConfigurationError(
                f"settings.CONCURRENT_TEST_FINGERPRINT_FILES is {value!r}; set it to a list of "
                "file paths or globs such as ['shop/fixtures/*.json']."
            )
        return [str(item) for item in value]

    @property
    def fingerprint_base_dir(self) -> Path:
        """Return the folder relative fingerprint globs start from: BASE_DIR, else the cwd."""
        base = self._setting("BASE_DIR", None)
        return Path(base) if isinstance(base, (str, os.PathLike)) else Path.cwd()

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
    def ready_clones(self) -> bool:
        """Return settings.CONCURRENT_TEST_READY_CLONES: whether a run leaves ready clones."""
        value = self._setting("CONCURRENT_TEST_READY_CLONES", True)
        if not isinstance(value, bool):
            raise ConfigurationError(
                f"settings.CONCURRENT_TEST_READY_CLONES is {value!r}; set it to True (the "
                "default) or False."
            )
        return value

    @property
    def split_classes(self) -> bool:
        """Return whether a class that bounds the run may be cut into pieces."""
        value = self._setting("CONCURRENT_TEST_SPLIT_CLASSES", True)
        if not isinstance(value, bool):
            raise ConfigurationError(
                f"settings.CONCURRENT_TEST_SPLIT_CLASSES is {value!r}; set it to True or False."
            )
        return value

    @property
    def memory_per_worker_mb(self) -> float:
        return float(
            self._env_number(
                "DJANGO_TEST_MEMORY_PER_WORKER_MB",
                DEFAULT_MEMORY_PER_WORKER_MB,
                unit="megabytes",
                allow_zero=False,
            )
        )

    @property
    def settings_module(self) -> str:
        """Return the dotted path of the settings module in use, or "" when configured in code."""
        return str(getattr(settings, "SETTINGS_MODULE", None) or "")

    @property
    def ci_branch(self) -> str:
        """Return the branch a CI system names (GitHub Actions, GitLab CI), or ""."""
        for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
            value = os.environ.get(name, "").strip()
            if value:
                return value
        return ""


app_settings = _Settings()
