"""PostgreSQL: clones are ``CREATE DATABASE .. TEMPLATE ..``; the locks are advisory locks.

A run holds its template with a shared advisory lock on the template's key; a build replacing
or dropping it takes the same key exclusively, after an exclusive lock on the template's
intent key, which new holds try shared first: so a waiting build is never starved. The server
names every holder: its session's application_name carries the run's pid and host.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.utils import CursorWrapper

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning.base import DatabaseCloner
from concurrent_test_app.databases.cloning.counters import Counters
from concurrent_test_app.databases.types import Row, SettingsDict
from concurrent_test_app.exceptions import TemplateBusyError

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
    # CREATE DATABASE .. TEMPLATE refuses a template that any other session is connected to.
    clone_needs_idle_template = True
    server_version_sql = "SHOW server_version_num"
    database_exists_sql = "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s"
    databases_sql = "SELECT datname FROM pg_catalog.pg_database"

    def _clone(self, source: str, target: str) -> None:
        sql = f"CREATE DATABASE {self._quote(target)} WITH TEMPLATE {self._quote(source)}"
        with self._cursor(None) as cursor:
            try:
                cursor.execute(sql)
            except Exception as exc:
                if _pgcode(exc) == OBJECT_IN_USE:
                    raise TemplateBusyError(str(exc)) from exc
                raise

    @staticmethod
    def _sessions_on(cursor: CursorWrapper, name: str) -> list[int]:
        cursor.execute(
            "SELECT pid FROM pg_catalog.pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        return [int(row[0]) for row in cursor.fetchall()]

    def _rename(self, source: str, target: str) -> None:
        with self._cursor(None) as cursor:
            cursor.execute(f"ALTER DATABASE {self._quote(source)} RENAME TO {self._quote(target)}")

    def _drop(self, name: str) -> None:
        with self._cursor(None) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self._quote(name)}")

    def _sessions(self, name: str) -> list[int]:
        with self._cursor(None) as cursor:
            return self._sessions_on(cursor, name)

    def _describe_sessions(self, sessions: list[int]) -> str:
        if not sessions:
            return "no session"
        with self._cursor(None) as cursor:
            cursor.execute(
                "SELECT pid, application_name, host(client_addr) "
                "FROM pg_catalog.pg_stat_activity WHERE pid = ANY(%s) ORDER BY pid",
                [list(sessions)],
            )
            rows = cursor.fetchall()
        return ", ".join(
            f"server session {pid}"
            + (f" '{application}'" if application else "")
            + f" from {client or 'a local socket'}"
            for pid, application, client in rows
        ) or ", ".join(f"server session {pid}" for pid in sessions)

    def _terminate(self, session: int) -> None:
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

    def _schema_rows(self, cursor: CursorWrapper) -> list[Row]:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "character_maximum_length, numeric_precision, numeric_scale, is_identity "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name <> %s "
            "ORDER BY table_name, column_name",
            [self.meta_table],
        )
        return list(cursor.fetchall())

    def _read_counters(self, cursor: CursorWrapper) -> Counters:
        # Every sequence outside the system schemas, as [last_value, is_called]: setval()
        # with both restores it exactly (a sequence never called has is_called false).
        cursor.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname <> 'information_schema' "
            "AND n.nspname !~ '^pg_' ORDER BY 1, 2"
        )
        names = [f"{self._quote(schema)}.{self._quote(name)}" for schema, name in cursor.fetchall()]
        if not names:
            return {}
        cursor.execute(
            " UNION ALL ".join(f"SELECT %s, last_value, is_called FROM {name}" for name in names),
            names,
        )
        return {str(name): [int(last), bool(called)] for name, last, called in cursor.fetchall()}

    def _restore_counters(self, cursor: CursorWrapper, counters: Counters) -> None:
        calls = ", ".join(["pg_catalog.setval(%s::regclass, %s, %s)"] * len(counters))
        params = [(name, last, called) for name, (last, called) in sorted(counters.items())]
        cursor.execute(f"SELECT {calls}", [item for row in params for item in row])

    @contextmanager
    def guard(self, template: str) -> Iterator[None]:
        naming.assert_derived(template, kind=naming.TEMPLATE)
        lock_id = self._lock_id(self._attached_key(template))
        with self._own_cursor(None) as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [lock_id])
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [lock_id])

    @staticmethod
    def _lock_id(key: str) -> int:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)

    def _label_options(self, label: str) -> SettingsDict:
        # NAMEDATALEN: the server keeps 63 bytes of it.
        return {"application_name": label[:63]} if label else {}

    def _keep_alive(self, session: CursorWrapper) -> None:
        # idle_session_timeout (PostgreSQL 14+) would end an idle run's hold; other sessions'
        # settings are the user's, this one is ours.
        session.execute(
            "SELECT set_config('idle_session_timeout', '0', false) "
            "WHERE current_setting('idle_session_timeout', true) IS NOT NULL"
        )

    def _session_id(self, session: CursorWrapper) -> str:
        session.execute("SELECT pg_backend_pid()")
        return str(session.fetchone()[0])

    def _try_lock(self, session: CursorWrapper, key: str) -> bool:
        session.execute("SELECT pg_try_advisory_lock(%s)", [self._lock_id(key)])
        return bool(session.fetchone()[0])

    def _unlock(self, session: CursorWrapper, key: str) -> None:
        session.execute("SELECT pg_advisory_unlock(%s)", [self._lock_id(key)])

    def _try_hold(self, session: CursorWrapper, key: str) -> str | None:
        intent = self._lock_id(self._intent_key(key))
        session.execute("SELECT pg_try_advisory_lock_shared(%s)", [intent])
        if not session.fetchone()[0]:
            return None  # a build waits to replace it: let it go first
        try:
            session.execute("SELECT pg_try_advisory_lock_shared(%s)", [self._lock_id(key)])
            return key if session.fetchone()[0] else None
        finally:
            session.execute("SELECT pg_advisory_unlock_shared(%s)", [intent])

    def _release_hold(self, session: CursorWrapper, key: str, handle: str) -> None:
        session.execute("SELECT pg_advisory_unlock_shared(%s)", [self._lock_id(key)])

    def _hold_sessions(self, session: CursorWrapper, key: str) -> list[tuple[str, str]]:
        # A bigint advisory key shows in pg_locks as its high half (classid) and low half
        # (objid), with objsubid 1; advisory keys are per database.
        unsigned = self._lock_id(key) & 0xFFFFFFFFFFFFFFFF
        session.execute(
            "SELECT a.pid, a.application_name, host(a.client_addr) "
            "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ShareLock' "
            "AND l.objsubid = 1 AND l.classid = (%s)::bigint::oid "
            "AND l.objid = (%s)::bigint::oid AND l.database = "
            "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
            "ORDER BY a.pid",
            [unsigned >> 32, unsigned & 0xFFFFFFFF],
        )
        return [
            (
                str(pid),
                f"{application or 'a session'} (server session {pid} from "
                f"{client or 'a local socket'})",
            )
            for pid, application, client in session.fetchall()
        ]
