"""MariaDB/MySQL: clones are an in-server copy; the lock is ``GET_LOCK``.

A copy runs in one session with ``FOREIGN_KEY_CHECKS=0``: every table's ``SHOW CREATE TABLE``
(parents before children), then ``INSERT .. SELECT`` of its rows, then views, routines and
triggers (triggers last, so that copying rows fires none). No mysqldump, no client process,
no password anywhere but the driver's own connection.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import DatabaseCloner

logger = logging.getLogger(__name__)

_DEFINER = re.compile(r"\s*DEFINER\s*=\s*(`[^`]*`|'[^']*'|\S+?)@(`[^`]*`|'[^']*'|\S+)", re.I)


def _ordered(tables: list[str], parents: dict[str, set[str]]) -> list[str]:
    """Return ``tables`` with every table after the tables its foreign keys point to."""
    ordered: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(table: str) -> None:
        if table in done or table in visiting:  # a cycle: FOREIGN_KEY_CHECKS=0 copes with it
            return
        visiting.add(table)
        for parent in sorted(parents.get(table, ())):
            if parent in parents or parent in tables:
                visit(parent)
        visiting.discard(table)
        done.add(table)
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered


class MySQLCloner(DatabaseCloner):
    vendor = "mysql"
    can_terminate_sessions = True
    meta_value_type = "LONGTEXT"

    def _quote(self, name: str) -> str:
        return str(self.connection.ops.quote_name(name))

    def _server_version(self) -> str:
        with self._cursor(None) as cursor:
            cursor.execute("SELECT VERSION()")
            return str(cursor.fetchone()[0])

    def _exists(self, name: str) -> bool:
        with self._cursor(None) as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name]
            )
            return cursor.fetchone() is not None

    def _list_databases(self) -> list[str]:
        with self._cursor(None) as cursor:
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            return [str(row[0]) for row in cursor.fetchall()]

    def _create(self, name: str) -> None:
        # The same suffix Django's own test database gets (TEST CHARSET and COLLATION).
        suffix = self.connection.creation.sql_table_creation_suffix()
        with self._cursor(None) as cursor:
            cursor.execute(f"CREATE DATABASE {self._quote(name)} {suffix}")

    def _clone(self, source: str, target: str) -> None:
        with self._cursor(None) as cursor:
            self._copy(cursor, source, target)

    def _rename(self, source: str, target: str) -> None:
        # MySQL has no RENAME DATABASE, and RENAME TABLE moves neither views nor tables with
        # triggers to another schema: publishing is a copy, then the build is dropped.
        with self._cursor(None) as cursor:
            self._copy(cursor, source, target)
        self._drop(source)

    def _drop(self, name: str) -> None:
        with self._cursor(None) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self._quote(name)}")

    def _copy(self, cursor: Any, source: str, target: str) -> None:
        """Copy the schema ``source`` into a new schema ``target``, in one session."""
        src, dst = self._quote(source), self._quote(target)
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            [source],
        )
        charset, collation = cursor.fetchone()
        cursor.execute(f"CREATE DATABASE {dst} CHARACTER SET {charset} COLLATE {collation}")
        cursor.execute(f"USE {dst}")
        # As mysqldump does: no FK checks while tables and rows arrive in any order, and an
        # explicit 0 in an AUTO_INCREMENT column stays 0.
        cursor.execute("SET SESSION FOREIGN_KEY_CHECKS = 0")
        cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        try:
            cursor.execute(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME",
                [source],
            )
            kinds = {str(name): str(kind) for name, kind in cursor.fetchall()}
            views = [name for name, kind in kinds.items() if kind == "VIEW"]
            tables = [name for name, kind in kinds.items() if kind != "VIEW"]
            cursor.execute(
                "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE "
                "WHERE TABLE_SCHEMA = %s AND REFERENCED_TABLE_SCHEMA = %s "
                "AND REFERENCED_TABLE_NAME IS NOT NULL",
                [source, source],
            )
            parents: dict[str, set[str]] = {}
            for table, parent in cursor.fetchall():
                if table != parent:
                    parents.setdefault(str(table), set()).add(str(parent))
            # The bookkeeping table goes last: a copy cut short never looks complete.
            ordered = [t for t in _ordered(tables, parents) if t != self.meta_table]
            if self.meta_table in tables:
                ordered.append(self.meta_table)
            cursor.execute(
                "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
                [source],
            )
            columns: dict[str, list[str]] = {}
            for table, column, extra in cursor.fetchall():
                if (
                    "GENERATED" in str(extra or "").upper()
                    and "DEFAULT_GENERATED" not in str(extra).upper()
                ):
                    continue  # a generated column computes itself; it cannot be inserted
                columns.setdefault(str(table), []).append(self._quote(str(column)))
            for table in ordered:
                cursor.execute(f"SHOW CREATE TABLE {src}.{self._quote(table)}")
                cursor.execute(cursor.fetchone()[1])
            for table in ordered:
                names = ", ".join(columns.get(table, []))
                if names:
                    cursor.execute(
                        f"INSERT INTO {dst}.{self._quote(table)} ({names}) "
                        f"SELECT {names} FROM {src}.{self._quote(table)}"
                    )
            self._copy_views(cursor, source, target, views)
            self._copy_routines(cursor, source)
            self._copy_triggers(cursor, source)
        finally:
            cursor.execute("SET SESSION FOREIGN_KEY_CHECKS = 1")

    def _copy_views(self, cursor: Any, source: str, target: str, views: list[str]) -> None:
        definitions = {}
        for view in views:
            cursor.execute(f"SHOW CREATE VIEW {self._quote(source)}.{self._quote(view)}")
            sql = _DEFINER.sub("", str(cursor.fetchone()[1]), count=1)
            definitions[view] = sql.replace(f"{self._quote(source)}.", f"{self._quote(target)}.")
        # A view may select from another view: create what can be created until nothing moves.
        pending = dict(definitions)
        while pending:
            failed: dict[str, str] = {}
            error: Exception | None = None
            for view, sql in pending.items():
                try:
                    cursor.execute(sql)
                except Exception as exc:
                    failed[view], error = sql, exc
            if len(failed) == len(pending):
                assert error is not None
                raise error
            pending = failed

    def _copy_routines(self, cursor: Any, source: str) -> None:
        cursor.execute(
            "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = %s ORDER BY ROUTINE_NAME",
            [source],
        )
        for name, kind in cursor.fetchall():
            if kind not in ("PROCEDURE", "FUNCTION"):
                continue
            cursor.execute(f"SHOW CREATE {kind} {self._quote(source)}.{self._quote(name)}")
            cursor.execute(_DEFINER.sub("", str(cursor.fetchone()[2]), count=1))

    def _copy_triggers(self, cursor: Any, source: str) -> None:
        cursor.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
            "ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
            [source],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"SHOW CREATE TRIGGER {self._quote(source)}.{self._quote(name)}")
            cursor.execute(_DEFINER.sub("", str(cursor.fetchone()[2]), count=1))

    def _sessions(self, name: str) -> list[Any]:
        with self._cursor(None) as cursor:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST "
                "WHERE DB = %s AND ID <> CONNECTION_ID()",
                [name],
            )
            return [int(row[0]) for row in cursor.fetchall()]

    def _terminate(self, session: Any) -> None:
        with self._cursor(None) as cursor:
            try:
                cursor.execute(f"KILL {int(session)}")
            except Exception as exc:  # it ended on its own meanwhile
                logger.debug("KILL %s: %s", session, exc)

    def _schema_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        cursor.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
            "FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> %s "
            "ORDER BY TABLE_NAME, COLUMN_NAME",
            [self.meta_table],
        )
        return list(cursor.fetchall())

    @contextmanager
    def _lock_session(self, key: str) -> Iterator[Any]:
        with self._cursor(None) as cursor:
            yield cursor

    @staticmethod
    def _lock_name(key: str) -> str:
        # GET_LOCK names are at most 64 characters.
        return f"concurrent_test:{hashlib.sha256(key.encode()).hexdigest()[:40]}"

    def _try_lock(self, session: Any, key: str) -> bool:
        session.execute("SELECT GET_LOCK(%s, 0)", [self._lock_name(key)])
        return session.fetchone()[0] == 1

    def _unlock(self, session: Any, key: str) -> None:
        session.execute("SELECT RELEASE_LOCK(%s)", [self._lock_name(key)])
