"""The test databases of a run: one per worker slot and alias, and their set-up and teardown.

The parent asks :class:`WorkerDatabases` for everything; a worker calls :func:`connect_worker`
with the plain settings the parent gave it. Per-worker names are computed by the vendor
creation code in one place, and nothing else guesses them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connections
from django.test.utils import NullTimeKeeper
from django.test.utils import setup_databases as django_setup_databases
from django.test.utils import teardown_databases as django_teardown_databases

from .results import TemplateRecord

logger = logging.getLogger(__name__)

WorkerSettings = dict[str, dict[str, Any]]


def unique_aliases(aliases: set[str] | dict[str, bool]) -> list[str]:
    """Return the aliases that own a database: mirrors share their primary's settings dict."""
    seen: set[int] = set()
    owners = []
    for alias in sorted(aliases):
        settings_dict = connections[alias].settings_dict
        if id(settings_dict) in seen or settings_dict.get("TEST", {}).get("MIRROR"):
            continue
        seen.add(id(settings_dict))
        owners.append(alias)
    return owners


class WorkerDatabases:
    """Create the run's test databases and one clone of each per worker slot."""

    def __init__(
        self,
        aliases: dict[str, bool],
        *,
        verbosity: int = 1,
        interactive: bool = False,
        keepdb: bool = False,
        debug_sql: bool = False,
        time_keeper: Any = None,
        rebuild_template: bool = False,
    ) -> None:
        self.aliases = aliases
        self.verbosity = verbosity
        self.interactive = interactive
        self.keepdb = keepdb
        self.debug_sql = debug_sql
        self.time_keeper = time_keeper or NullTimeKeeper()
        self.rebuild_template = rebuild_template
        self.old_config: Any = None
        self.templates: list[TemplateRecord] = []
        self.clone_seconds: list[float] = []
        self._slots: set[int] = set()

    @property
    def owners(self) -> list[str]:
        return unique_aliases(self.aliases)

    def setup(self) -> None:
        """Create (or, with --keepdb, reuse) the test database of every alias the suite uses."""
        started = time.monotonic()
        serialized = {alias for alias, serialize in self.aliases.items() if serialize}
        self.old_config = django_setup_databases(
            self.verbosity,
            self.interactive,
            time_keeper=self.time_keeper,
            keepdb=self.keepdb,
            debug_sql=self.debug_sql,
            parallel=0,
            aliases=self.aliases,
            serialized_aliases=serialized,
        )
        seconds = time.monotonic() - started
        for alias in self.owners:
            name = connections[alias].settings_dict["NAME"]
            self.templates.append(TemplateRecord(alias, str(name), "", self.keepdb, seconds))

    def prepare_slot(self, slot: int) -> WorkerSettings:
        """(Re)create the clones of worker ``slot`` and return what the worker connects with."""
        for alias in self.owners:
            creation = connections[alias].creation
            started = time.monotonic()
            creation.clone_test_db(suffix=str(slot), verbosity=0, keepdb=self.keepdb)
            self.clone_seconds.append(time.monotonic() - started)
        self._slots.add(slot)
        connections.close_all()
        return self.worker_settings(slot)

    def worker_settings(self, slot: int) -> WorkerSettings:
        """Return, per alias, the settings dict a worker in ``slot`` connects with."""
        result: WorkerSettings = {}
        for alias in self.owners:
            connection = connections[alias]
            settings_dict = dict(connection.settings_dict)
            settings_dict["_worker_slot"] = slot
            if hasattr(connection, "_test_serialized_contents"):
                settings_dict["_serialized"] = connection._test_serialized_contents
            result[alias] = settings_dict
        return result

    def database_name(self, slot: int) -> str:
        """Return a readable name of slot's database for the first alias, for reports."""
        owners = self.owners
        if not owners:
            return ""
        creation = connections[owners[0]].creation
        return str(creation.get_test_db_clone_settings(str(slot))["NAME"])

    def drop_slot(self, slot: int) -> None:
        if slot not in self._slots or self.keepdb:
            return
        for alias in self.owners:
            connections[alias].creation.destroy_test_db(
                verbosity=0, keepdb=self.keepdb, suffix=str(slot)
            )
        self._slots.discard(slot)

    def teardown(self) -> None:
        """Drop every clone, then the test databases (both kept with --keepdb)."""
        errors: list[BaseException] = []
        for slot in sorted(self._slots):
            try:
                self.drop_slot(slot)
            except Exception as exc:  # a teardown error must not hide the others
                logger.warning("Could not drop the clones of worker %s: %s", slot, exc)
                errors.append(exc)
        if self.old_config is not None:
            django_teardown_databases(
                self.old_config, verbosity=self.verbosity, parallel=0, keepdb=self.keepdb
            )
            self.old_config = None
        if errors:
            raise errors[0]


def connect_worker(slot: int, worker_settings: WorkerSettings, restore: bool) -> None:
    """Point this worker process's connections at its own clones.

    ``restore`` is true in a spawned process, whose settings still name the real databases.
    """
    for alias, settings_dict in worker_settings.items():
        connection = connections[alias]
        settings_dict = dict(settings_dict)
        settings_dict.pop("_worker_slot", None)
        serialized = settings_dict.pop("_serialized", None)
        if restore:
            connection.settings_dict.update(settings_dict)
            if serialized is not None:
                connection._test_serialized_contents = serialized
        connection.creation.setup_worker_connection(slot)
