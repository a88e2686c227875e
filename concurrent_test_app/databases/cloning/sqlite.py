"""SQLite: templates and clones are files; a clone is a file copy; the locks are file locks.

A worker whose alias would test on an in-memory database copies the template file into its
own in-memory database with SQLite's backup API (see :func:`load_into_memory`): the parent
copies no file at all then, as Django's fork copies its in-memory database for free.

Every lock is an ``fcntl.flock`` on ``<key>.lock`` beside the databases: a run holds its
template with a shared lock (``LOCK_SH``) on the template's lock file, a build replacing or
dropping it takes an exclusive one (``LOCK_EX``) after an exclusive lock on the template's
intent file, which new holds try shared first. A lock dies with its process, so a killed run
never leaves one behind. A holder also writes who it is to ``<template>.<id>.holder.lock``,
locked exclusively while it holds: a file that can be locked belongs to a run that is gone.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.creation import DatabaseCreation
from django.db.backends.utils import CursorWrapper

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning.base import DatabaseCloner
from concurrent_test_app.databases.types import Row

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


def _flock(fd: int, operation: int) -> bool:
    """Apply ``operation`` without blocking; return False when another holder prevents it."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _LockFiles:
    """SQLite's stand-in for a server session: the lock files it opened, one per key."""

    def __init__(self, directory: Path, label: str) -> None:
        self.directory = directory
        self.label = label
        self.id = secrets.token_hex(4)
        self._files: dict[str, IO[str]] = {}
        self.records: dict[str, tuple[Path, int]] = {}  # key -> this holder's record

    def fileno(self, key: str) -> int:
        handle = self._files.get(key)
        if handle is None:
            handle = self._files[key] = open(self.directory / f"{key}.lock", "a")
        return handle.fileno()

    def close(self) -> None:
        for key in list(self.records):
            self.drop_record(key)
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def write_record(self, key: str) -> None:
        """Say who holds ``key``: written under a temporary name, locked, then renamed, so
        that a reader never finds the record unlocked while its holder lives."""
        final = self.directory / f"{key}.{self.id}.holder.lock"
        new = self.directory / f"{key}.{self.id}.holder-new.lock"
        fd = os.open(new, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (self.label or f"pid {os.getpid()}").encode())
        os.replace(new, final)
        self.records[key] = (final, fd)

    def drop_record(self, key: str) -> None:
        path, fd = self.records.pop(key)
        path.unlink(missing_ok=True)
        os.close(fd)


class SQLiteCloner(DatabaseCloner):
    vendor = "sqlite"
    has_server = False
    rollback_keeps_counters = False  # sqlite_sequence is a table: a rollback restores it
    can_terminate_sessions = False
    server_database_name = ":memory:"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        self.directory: Path = naming.sqlite_directory(self.settings_dict)

    def test_database_name(self) -> str:
        return naming.sqlite_base_name(self.settings_dict)

    def is_in_memory(self) -> bool:
        test_name = (self.settings_dict.get("TEST") or {}).get("NAME") or ":memory:"
        return DatabaseCreation.is_in_memory_db(test_name)

    @classmethod
    def connection_in_memory(cls, connection: BaseDatabaseWrapper) -> bool:
        return DatabaseCreation.is_in_memory_db(connection.settings_dict["NAME"])

    @classmethod
    def connecting_creates(cls, connection: BaseDatabaseWrapper) -> bool:
        # sqlite3.connect() makes an empty file where the NAME names none.
        name = connection.settings_dict["NAME"]
        return not cls.connection_in_memory(connection) and not Path(str(name)).exists()

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

    def _schema_rows(self, cursor: CursorWrapper) -> list[Row]:
        cursor.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%%' AND tbl_name <> %s ORDER BY type, name",
            [self.meta_table],
        )
        return list(cursor.fetchall())

    @contextmanager
    def _lock_session(self, key: str, label: str = "") -> Iterator[_LockFiles]:
        self.directory.mkdir(parents=True, exist_ok=True)
        session = _LockFiles(self.directory, label)
        try:
            yield session
        finally:
            session.close()

    def _session_id(self, session: _LockFiles) -> str:
        return str(session.id)

    def _try_lock(self, session: _LockFiles, key: str) -> bool:
        return _flock(session.fileno(key), fcntl.LOCK_EX)

    def _unlock(self, session: _LockFiles, key: str) -> None:
        fcntl.flock(session.fileno(key), fcntl.LOCK_UN)

    def _try_hold(self, session: _LockFiles, key: str) -> str | None:
        intent = session.fileno(self._intent_key(key))
        if not _flock(intent, fcntl.LOCK_SH):
            return None  # a build waits to replace it: let it go first
        try:
            if not _flock(session.fileno(key), fcntl.LOCK_SH):
                return None
            session.write_record(key)
            return key
        finally:
            fcntl.flock(intent, fcntl.LOCK_UN)

    def _release_hold(self, session: _LockFiles, key: str, handle: str) -> None:
        session.drop_record(key)
        fcntl.flock(session.fileno(key), fcntl.LOCK_UN)

    def _hold_sessions(self, session: _LockFiles, key: str) -> list[tuple[str, str]]:
        found = []
        for path in sorted(self.directory.glob(f"{key}.*.holder.lock")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:  # released meanwhile
                continue
            try:
                if _flock(fd, fcntl.LOCK_SH):
                    path.unlink(missing_ok=True)  # its holder is gone (killed): forget it
                    continue
                holder_id = path.name[len(key) + 1 : -len(".holder.lock")]
                found.append((holder_id, os.read(fd, 1000).decode(errors="replace").strip()))
            finally:
                os.close(fd)
        return found
