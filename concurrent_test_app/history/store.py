"""The history's database: which alias, whether it can hold history, and how to read it.

Nothing here may end a run: a database without the history tables, or no database at all,
just means "no history", said once as a warning and otherwise as a default answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Model, QuerySet, Window
from django.db.models.functions import RowNumber

from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases.cloning import connecting_creates
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.models import Case, CaseResult, Run, UnitTiming, WorkerStat

logger = logging.getLogger(__name__)

MIGRATE_HINT = "run `manage.py migrate` to enable timing history"
NOT_CONFIGURED = "is not configured (DATABASES has no ENGINE for it)"
_DUMMY_ENGINE = "django.db.backends.dummy"

# Rows per query and per batch: long IN lists and huge INSERTs hit the vendors' limits.
CHUNK = 500
_HISTORY_MODELS = (Run, Case, CaseResult, UnitTiming, WorkerStat)
_warned_missing: set[str] = set()

T = TypeVar("T")


def history_alias(using: str | None) -> str:
    """Return the alias of the history database: ``using``, or the one the settings name."""
    alias = using or app_settings.history_database
    if alias not in connections:
        raise ConfigurationError(
            f"The timing history database {alias!r} (settings.CONCURRENT_TEST_HISTORY_DATABASE) "
            "is not in settings.DATABASES; set it to one of "
            f"{', '.join(repr(a) for a in connections)}."
        )
    return alias


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Yield ``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The rows' values come from the database driver, of whatever types the fields hold: Any.
def newest_per_key(
    rows: QuerySet[Model], key: str, window: int, *fields: str
) -> QuerySet[Model, tuple[Any, ...]]:
    """Return ``fields`` of the ``rows`` of each ``key`` among its ``window`` most recent runs.

    ``recency`` may be one of the fields: 1 for the key's newest run, 2 for the one before, ...
    """
    ranked = rows.annotate(
        recency=Window(RowNumber(), partition_by=[F(key)], order_by=F("run_id").desc())
    )
    newest: QuerySet[Model, tuple[Any, ...]] = ranked.filter(recency__lte=window).values_list(
        *fields
    )
    return newest


@contextmanager
def connected(alias: str) -> Iterator[BaseDatabaseWrapper]:
    """Yield a connection to the database ``alias`` names now, and close it if it was closed.

    Django cannot close a connection to an in-memory SQLite test database; after teardown it
    restores the real database's name but keeps talking to the test database. Reconnecting
    first sends history where the settings say. Closing afterwards matters too: the runner
    forks workers after reading history, and each child would share an open connection.
    """
    connection = connections[alias]
    was_open = connection.connection is not None
    if was_open and not connection.in_atomic_block:
        connection.close()
    try:
        yield connection
    finally:
        if not was_open and not connection.in_atomic_block:
            connection.close()


def missing_history(alias: str) -> str | None:
    """Return why the database ``alias`` cannot hold history, or None when it can."""
    connection = connections[alias]
    if connection.settings_dict.get("ENGINE") == _DUMMY_ENGINE:
        return NOT_CONFIGURED
    if connecting_creates(connection):  # an empty database file where the project has none yet
        return "does not exist yet"
    try:
        tables = set(connection.introspection.table_names())
    except (DatabaseError, ImproperlyConfigured) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"cannot be reached ({first_line})"
    if not all(model._meta.db_table in tables for model in _HISTORY_MODELS):
        return "has no concurrent_test_app tables"
    return None


def history_tables_exist(alias: str) -> bool:
    """Return whether the database ``alias`` is reachable and holds the history tables."""
    return missing_history(alias) is None


def warn_missing(alias: str, reason: str) -> None:
    """Say once per database why it keeps no history (a project without one hears nothing)."""
    if alias in _warned_missing:
        return
    if reason == NOT_CONFIGURED:
        # A project without a database has no history to keep: nothing to warn about.
        logger.debug("Timing history is off: database %r %s.", alias, reason)
        return
    _warned_missing.add(alias)
    logger.warning("Timing history is off: database %r %s; %s.", alias, reason, MIGRATE_HINT)


def read_history(alias: str, what: str, query: Callable[[str], T], default: T) -> T:
    """Return ``query(alias)``, or ``default`` when the database holds no history or fails.

    ``what`` names what was being read, for the warning a database error gives.
    """
    with connected(alias):
        if not history_tables_exist(alias):
            return default
        try:
            return query(alias)
        except DatabaseError as exc:
            logger.warning("Could not read %s from %r: %s", what, alias, exc)
            return default
