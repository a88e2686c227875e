"""PostgreSQL: clones are ``CREATE DATABASE .. TEMPLATE ..``; the lock is an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from .. import naming
from ..exceptions import DatabaseSetupError
from .base import DatabaseCloner

logger = logging.getLogger(__name__)

# SQLSTATE 55006 object_in_use: "source database ... is being accessed by other users".
OBJECT_IN_USE = "55006"


def _pgcode(exc: BaseException) -> str | None:
    for error in (exc, exc.__cause__):
        code = getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)
        if code:
            return str(code)
    return None


class PostgreSQLCloner(DatabaseCloner):
    vendor = "postgresql"
    can_terminate_sessions = True
    # A template in use is waited for with a short backoff; after the grace its sessions are
    # ended (when no build holds its lock); after the limit the clone fails.
    clone_backoff: ClassVar[float] = 0.02
    stray_session_grace: ClassVar[float] = 2.0
    clone_wait_limit: ClassVar[float] = 30.0
    server_version_sql = "SHOW server_version_num"
    database_exists_sql = "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s"
    databases_sql = "SELECT datname FROM pg_catalog.pg_database"

    def _clone(self, source: str, target: str) -> None:
        sql = f"CREATE DATABASE {self._quote(target)} WITH TEMPLATE {self._quote(source)}"
        delay, waited, ended = self.clone_backoff, 0.0, False
        with self._cursor(None) as cursor:
            while True:
                # The server itself waits 5 s before it refuses a busy template, so look first.
                if self._sessions_on(cursor, source):
                    if waited >= self.stray_session_grace and not ended:
                        # Still busy: a stray session (a crashed run's, a shell). End it, but
                        # only while no build holds the template's lock.
                        ended = self._end_stray_sessions(source)
                        if ended:
                            continue
                    if waited >= self.clone_wait_limit:
                        raise DatabaseSetupError(
                            f"The template {source!r} stayed in use for {waited:.0f}s, so it "
                            "could not be cloned; close the sessions connected to it and retry."
                        )
                    time.sleep(delay)
                    waited += delay
                    delay = min(delay * 2, 0.5)
                    continue
                try:
                    cursor.execute(sql)
                    return
                except Exception as exc:
                    # Another session connected between the look and the clone: look again.
                    if _pgcode(exc) != OBJECT_IN_USE or waited >= self.clone_wait_limit:
                        raise
                    waited += delay

    def _end_stray_sessions(self, template: str) -> bool:
        # The template's own lock: held shared by every run connected to it (guard()), and
        # exclusively by a build about to replace it.
        if not self.try_lock(naming.assert_derived(template, kind=naming.TEMPLATE).name):
            return False
        self.terminate_sessions(template)
        return True

    @staticmethod
    def _sessions_on(cursor: Any, name: str) -> list[Any]:
        cursor.execute(
            "SELECT pid FROM pg_catalog.pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        return [row[0] for row in cursor.fetchall()]

    def _rename(self, source: str, target: str) -> None:
        with self._cursor(None) as cursor:
            cursor.execute(f"ALTER DATABASE {self._quote(source)} RENAME TO {self._quote(target)}")

    def _drop(self, name: str) -> None:
        with self._cursor(None) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self._quote(name)}")

    def _sessions(self, name: str) -> list[Any]:
        with self._cursor(None) as cursor:
            return self._sessions_on(cursor, name)

    def _terminate(self, session: Any) -> None:
        with self._cursor(None) as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [session])
        # pg_terminate_backend only signals; the backend leaves within milliseconds.
        for _ in range(50):
            with self._cursor(None) as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_catalog.pg_stat_activity WHERE pid = %s", [session]
                )
                if cursor.fetchone() is None:
                    return
            time.sleep(0.02)

    def _schema_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "character_maximum_length, numeric_precision, numeric_scale, is_identity "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name <> %s "
            "ORDER BY table_name, column_name",
            [self.meta_table],
        )
        return list(cursor.fetchall())

    @contextmanager
    def guard(self, template: str) -> Iterator[None]:
        key = naming.assert_derived(template, kind=naming.TEMPLATE).name
        with self._own_cursor(None) as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [self._lock_id(key)])
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [self._lock_id(key)])

    @staticmethod
    def _lock_id(key: str) -> int:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)

    def _try_lock(self, session: Any, key: str) -> bool:
        session.execute("SELECT pg_try_advisory_lock(%s)", [self._lock_id(key)])
        return bool(session.fetchone()[0])

    def _unlock(self, session: Any, key: str) -> None:
        session.execute("SELECT pg_advisory_unlock(%s)", [self._lock_id(key)])
