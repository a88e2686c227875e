"""SQLite: templates and clones are files; a clone is a file copy; the lock is a file lock.

A worker whose alias would test on an in-memory database copies the template file into its
own in-memory database with SQLite's backup API (see :func:`load_into_memory`): the parent
copies no file at all then, as Django's fork copies its in-memory database for free.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .. import naming
from .base import DatabaseCloner

logger = logging.getLogger(__name__)

_SIDE_FILES = ("-journal", "-wal", "-shm")


def load_into_memory(path: str, memory_name: str) -> sqlite3.Connection:
    """Copy the database file ``path`` into the shared-cache in-memory ``memory_name``.

    Return the connection that keeps the in-memory database alive.
    """
    keeper = sqlite3.connect(memory_name, uri=True, check_same_thread=False)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source.backup(keeper)
    finally:
        source.close()
    return keeper


class SQLiteCloner(DatabaseCloner):
    vendor = "sqlite"
    has_server = False
    can_terminate_sessions = False
    server_database_name = ":memory:"

    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        self.directory: Path = naming.sqlite_directory(self.settings_dict)

    def test_database_name(self) -> str:
        return naming.sqlite_base_name(self.settings_dict)

    def is_in_memory(self) -> bool:
        """Return whether Django would test this alias on an in-memory database."""
        test_name = (self.settings_dict.get("TEST") or {}).get("NAME") or ":memory:"
        return bool(self.connection.creation.is_in_memory_db(test_name))

    def _physical_name(self, name: str) -> str:
        return str(self._path(name))

    def _path(self, name: str) -> Path:
        naming.assert_derived(name)
        return self.directory / f"{name}{naming.SQLITE_SUFFIX}"

    def _server_version(self) -> str:
        return sqlite3.sqlite_version

    def _exists(self, name: str) -> bool:
        return self._path(name).exists()

    def _list_databases(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return [
            path.name[: -len(naming.SQLITE_SUFFIX)]
            for path in self.directory.iterdir()
            if path.name.endswith(naming.SQLITE_SUFFIX)
        ]

    def _create(self, name: str) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()

    def _clone(self, source: str, target: str) -> None:
        # A clone cut short is a corrupt file that nothing reuses: its bookkeeping is unreadable.
        shutil.copyfile(self._path(source), self._path(target))

    def _rename(self, source: str, target: str) -> None:
        os.replace(self._path(source), self._path(target))

    def _drop(self, name: str) -> None:
        path = self._path(name)
        for side in ("", *_SIDE_FILES):
            Path(f"{path}{side}").unlink(missing_ok=True)

    def _is_damaged(self, exc: BaseException) -> bool:
        # "file is not a database" / "database disk image is malformed": a copy cut short.
        message = str(exc)
        return "not a database" in message or "malformed" in message

    def _schema_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        cursor.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%%' AND tbl_name <> %s ORDER BY type, name",
            [self.meta_table],
        )
        return list(cursor.fetchall())

    @contextmanager
    def _lock_session(self, key: str) -> Iterator[IO[str]]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / f"{key}.lock", "a") as handle:
            yield handle

    def _try_lock(self, session: Any, key: str) -> bool:
        try:
            fcntl.flock(session.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(self, session: Any, key: str) -> None:
        fcntl.flock(session.fileno(), fcntl.LOCK_UN)
