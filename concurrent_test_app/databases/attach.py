"""The worker's side of the databases: point its connections at its own clones."""

from __future__ import annotations

from typing import Any

from django.db import connections

from concurrent_test_app.databases.cloning.sqlite import load_into_memory
from concurrent_test_app.protocol import WorkerSettings

# The private key, in a worker's settings dict, of what connect_worker needs beyond settings.
EXTRA = "_concurrent_test"

# Connections that keep each worker's in-memory SQLite databases alive.
_MEMORY_KEEPERS: list[object] = []


def connect_worker(slot: int, worker_settings: WorkerSettings, restore: bool) -> None:
    """Point this worker process's connections at its own clones.

    ``restore`` is true in a spawned process, whose settings still name the real databases;
    there the serialized contents come along with the settings too.
    """
    for alias, given in worker_settings.items():
        settings_dict = dict(given)
        extra = settings_dict.pop(EXTRA, {}) or {}
        # Any: _test_serialized_contents is Django's runner's own, unknown to the stubs.
        connection: Any = connections[alias]
        # Under fork the parent closed every connection first; a stale one must not be reused.
        connection.close()
        if extra.get("load"):
            _MEMORY_KEEPERS.append(load_into_memory(extra["load"], settings_dict["NAME"]))
        # Updated in place: threads and new connection objects read this same dict.
        connection.settings_dict.update(settings_dict)
        serialized = extra.get("serialized")
        if serialized is not None and (
            restore or not hasattr(connection, "_test_serialized_contents")
        ):
            connection._test_serialized_contents = serialized
        if extra.get("debug_sql"):
            connection.force_debug_cursor = True
