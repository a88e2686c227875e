"""System checks for the app's settings and environment, with stable ids.

=============================  ===================================================================
``concurrent_test_app.E001``   ``PROJECT_NAME`` is not a string.
``concurrent_test_app.E002``   ``CONCURRENT_TEST_LOGGING`` is malformed.
``concurrent_test_app.E003``   ``CONCURRENT_TEST_TEMPLATES_TO_KEEP`` is not a whole number >= 0.
``concurrent_test_app.E004``   ``TEST_TIMINGS_FILE`` is not a path.
``concurrent_test_app.E005``   ``TEST_TIMINGS_FILE`` exists but cannot be read as a timings file.
``concurrent_test_app.E007``   ``DJANGO_TEST_MIN_WORKERS`` is above ``DJANGO_TEST_MAX_WORKERS``.
``concurrent_test_app.E008``   A ``DJANGO_TEST_*`` environment variable holds a bad number.
``concurrent_test_app.E009``   ``CONCURRENT_TEST_HISTORY_DATABASE`` names no alias in DATABASES.
``concurrent_test_app.E010``   ``CONCURRENT_TEST_FINGERPRINT_FILES`` is not a list of paths.
``concurrent_test_app.E011``   ``CONCURRENT_TEST_READY_CLONES`` is not True or False.
``concurrent_test_app.E012``   ``CONCURRENT_TEST_SPLIT_CLASSES`` is not True or False.
``concurrent_test_app.W001``   The timeouts are not ordered per test < per worker < global.
``concurrent_test_app.W002``   The folder of ``TEST_TIMINGS_FILE`` does not exist (yet).
``concurrent_test_app.W003``   A database alias uses an engine other than PostgreSQL, MySQL, SQLite
                               (a warning: ``concurrent_test`` refuses it only when tests use it).
=============================  ===================================================================

Run them alone with ``manage.py check --tag concurrent_test``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.utils import load_backend

from concurrent_test_app.conf import ENVIRONMENT_PROPERTIES, app_settings
from concurrent_test_app.databases.cloning import CLONERS
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.timeouts import check_hierarchy

logger = logging.getLogger(__name__)

TAG = "concurrent_test"
# Django fills in this engine when DATABASES is empty: such a project has no database to clone.
_DUMMY_ENGINE = "django.db.backends.dummy"


def _error_from(read: Callable[[], Any], check_id: str) -> list[CheckMessage]:
    """Return an Error with ``check_id`` if ``read()`` raises ConfigurationError, else []."""
    try:
        read()
    except ConfigurationError as exc:
        return [Error(str(exc), id=check_id)]
    return []


# -- plain functions the runner calls too ------------------------------------------------------


def unsupported_engines(
    aliases: Iterable[str] | None = None,
    *,
    databases: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Return one sentence per alias whose engine the app cannot clone; [] when all are fine.

    ``aliases`` defaults to every alias; ``databases`` to Django's DATABASES as the
    connection handler holds them. The backend module is imported but no connection opened.
    """
    configured = connections.settings if databases is None else databases
    problems = []
    for alias in configured if aliases is None else aliases:
        engine = str(configured[alias].get("ENGINE", ""))
        if engine == _DUMMY_ENGINE:
            continue
        try:
            vendor = load_backend(engine).DatabaseWrapper.vendor
        except (ImproperlyConfigured, ImportError) as exc:
            text = str(exc).strip()
            reason = text.splitlines()[0].rstrip(".") if text else type(exc).__name__
            problems.append(
                f"DATABASES[{alias!r}] uses the engine {engine!r}, which cannot be loaded "
                f"({reason}); set ENGINE to a PostgreSQL, MySQL/MariaDB or SQLite backend."
            )
            continue
        if vendor not in CLONERS:
            problems.append(
                f"DATABASES[{alias!r}] uses the {vendor!r} engine ({engine}), which "
                "concurrent_test does not support; use PostgreSQL, MySQL/MariaDB or SQLite."
            )
    return problems


# -- the checks ----------------------------------------------------------------------------


@register(TAG)
def check_project_name(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check settings.PROJECT_NAME."""
    return _error_from(lambda: app_settings.project_name, "concurrent_test_app.E001")


@register(TAG)
def check_logging(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check settings.CONCURRENT_TEST_LOGGING."""
    return _error_from(lambda: app_settings.logging, "concurrent_test_app.E002")


@register(TAG)
def check_templates_to_keep(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check settings.CONCURRENT_TEST_TEMPLATES_TO_KEEP."""
    return _error_from(lambda: app_settings.templates_to_keep, "concurrent_test_app.E003")


@register(TAG)
def check_fingerprint_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check settings.CONCURRENT_TEST_FINGERPRINT_FILES."""
    return _error_from(lambda: app_settings.fingerprint_files, "concurrent_test_app.E010")


@register(TAG)
def check_ready_clones(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check settings.CONCURRENT_TEST_READY_CLONES."""
    return _error_from(lambda: app_settings.ready_clones, "concurrent_test_app.E011")


@register(TAG)
def check_split_classes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check settings.CONCURRENT_TEST_SPLIT_CLASSES."""
    return _error_from(lambda: app_settings.split_classes, "concurrent_test_app.E012")


@register(TAG)
def check_timings_file(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that settings.TEST_TIMINGS_FILE can be read now and written after a run."""
    try:
        path = app_settings.timings_file
    except ConfigurationError as exc:
        return [Error(str(exc), id="concurrent_test_app.E004")]
    if path is None:
        return []
    if not path.exists():
        folder = path.absolute().parent
        if not folder.is_dir():
            # Only a warning: the first run creates the folder when it writes the file, which is
            # what a fresh CI cache wants; but a typo in the path shows up here.
            return [
                Warning(
                    f"The folder of settings.TEST_TIMINGS_FILE ({path}) does not exist; "
                    f"create {folder} or point TEST_TIMINGS_FILE at an existing folder.",
                    hint="The first run that writes timings creates the folder.",
                    id="concurrent_test_app.W002",
                )
            ]
        return []
    # Imported here: history imports the models, which need the app registry.
    from concurrent_test_app.history import read_timings_file

    try:
        read_timings_file(path, source="settings.TEST_TIMINGS_FILE")
    except ConfigurationError as exc:
        return [Error(str(exc), id="concurrent_test_app.E005")]
    return []


@register(TAG)
def check_database_engines(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that every database alias uses an engine the app can clone."""
    # A warning, not an error: a project may keep, say, a read-only Oracle alias its tests never
    # touch. concurrent_test refuses the engine (exit status 2) when the suite does use it.
    return [
        Warning(
            message,
            hint=(
                "concurrent_test refuses it when a test uses this alias; if none does, add "
                "'concurrent_test_app.W003' to SILENCED_SYSTEM_CHECKS."
            ),
            id="concurrent_test_app.W003",
        )
        for message in unsupported_engines()
    ]


@register(TAG)
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check the DJANGO_TEST_* environment variables, the worker bounds and the timeouts."""
    messages: list[CheckMessage] = []
    seen: set[str] = set()
    bad: set[str] = set()
    for variable, prop in ENVIRONMENT_PROPERTIES:
        try:
            getattr(app_settings, prop)
        except ConfigurationError as exc:
            bad.add(variable)
            # A bad DJANGO_TEST_TIMEOUT also breaks the defaults built on it: report it once.
            if str(exc) not in seen:
                seen.add(str(exc))
                messages.append(Error(str(exc), id="concurrent_test_app.E008"))
    if not bad & {"DJANGO_TEST_MIN_WORKERS", "DJANGO_TEST_MAX_WORKERS"}:
        messages += _error_from(app_settings.check_worker_bounds, "concurrent_test_app.E007")
    timeout_variables = {variable for variable, _ in ENVIRONMENT_PROPERTIES[:4]}
    if not bad & timeout_variables:
        messages += [
            Warning(
                text,
                hint=(
                    "Order DJANGO_TEST_TIMEOUT_PER_TEST < DJANGO_TEST_TIMEOUT_PER_WORKER < "
                    "DJANGO_TEST_TIMEOUT_GLOBAL (or the matching --timeout-* flags)."
                ),
                id="concurrent_test_app.W001",
            )
            for text in check_hierarchy(
                app_settings.timeout_per_test,
                app_settings.timeout_per_worker,
                app_settings.timeout_global,
            )
        ]
    return messages


@register(TAG)
def check_history_database(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that settings.CONCURRENT_TEST_HISTORY_DATABASE names a configured alias."""
    alias = app_settings.history_database
    aliases = list(connections)
    if alias in aliases:
        return []
    return [
        Error(
            f"settings.CONCURRENT_TEST_HISTORY_DATABASE is {alias!r}, which is not in "
            f"DATABASES; set it to one of {', '.join(map(repr, aliases))}.",
            id="concurrent_test_app.E009",
        )
    ]
