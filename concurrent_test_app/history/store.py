"""The history's database: which alias, whether it can hold history, and how to read it.

Nothing here may end a run: a database without the history tables, or no database at all,
just means "no history", said once as a warning and otherwise as a default answer.
"""

from __future__ import annotations

import logging
from collections import defaultdict
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
# A read of each key's newest rows looks among the last window runs first, then among this
# many times as many, and over the whole history only for the keys still short of a window:
# in a steady suite every key is found in the first look, however long the history is.
_LOOK_BACK = (1, 4, 16)
_warned_missing: set[str] = set()

T = TypeVar("T")
K = TypeVar("K", str, int)


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


def newest_rows(
    alias: str,
    rows_of: Callable[[Sequence[K]], QuerySet[Model]],
    keys: Sequence[K],
    key: str,
    window: int,
    *fields: str,
) -> list[tuple[Any, ...]]:
    """Return ``key`` and ``fields`` of the ``window`` newest rows of each of ``keys``.

    ``rows_of(chunk)`` gives the rows of some of the ``keys``. A key with a whole window of rows
    among the last runs has no newer rows elsewhere, so its rows (and their ``recency``) are
    what :func:`newest_per_key` gives over the whole history; only the keys short of a window
    are read again, over more runs.
    """
    found: list[tuple[Any, ...]] = []
    short = list(keys)
    for floor in _run_floors(alias, window):
        rows: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
        for chunk in chunks(short):
            recent = rows_of(chunk) if floor is None else rows_of(chunk).filter(run_id__gte=floor)
            for row in newest_per_key(recent, key, window, key, *fields):
                rows[row[0]].append(row)
        for key_rows in rows.values():
            if floor is None or len(key_rows) == window:
                found.extend(key_rows)
        short = [k for k in short if len(rows.get(k, ())) < window]
        if not short:
            break
    return found


def _run_floors(alias: str, window: int) -> list[int | None]:
    """Return the oldest run id of each look :func:`newest_rows` takes; None is all of history."""
    # One run more than the deepest look: a look that would reach the oldest run is the whole
    # history, which is left to the last look.
    deepest = window * _LOOK_BACK[-1] + 1
    newest = list(Run.objects.using(alias).order_by("-id").values_list("pk", flat=True)[:deepest])
    floors: list[int | None] = [
        newest[window * times - 1] for times in _LOOK_BACK if window * times < len(newest)
    ]
    return [*floors, None]


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
