"""MariaDB/MySQL: clones are an in-server copy; the locks are ``GET_LOCK`` named locks.

``GET_LOCK`` has no shared mode, so a run holds its template by taking one free lock of a
bounded set of *slot* locks per template (:attr:`MySQLCloner.hold_slots`), under the
template's *intent* lock, which it takes only for that moment. A build about to replace or drop
the template takes the intent lock and keeps it, so no new run starts holding, then waits until
``IS_USED_LOCK`` says no slot lock is held. The server tells only which connection holds a
slot (``PROCESSLIST``); the run behind it is found in its clones' bookkeeping.

A copy runs with ``FOREIGN_KEY_CHECKS=0``: every table's ``SHOW CREATE TABLE`` (parents before
children), then ``INSERT .. SELECT`` of its rows, spread over a few sessions at once; then the
bookkeeping table, views, routines and triggers (triggers last, so that copying rows fires
none). No mysqldump, no client process, no password anywhere but the driver's own connection.
"""

from __future__ import annotations

import hashlib
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

from django.db.backends.utils import CursorWrapper

from concurrent_test_app.databases.cloning.base import DatabaseCloner
from concurrent_test_app.databases.cloning.counters import Counters
from concurrent_test_app.databases.types import Row

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
    # One copy already spreads over copy_sessions sessions; several copies at once only
    # queue behind each other's file syncs.
    can_clone_concurrently = False
    can_terminate_sessions = True
    can_name_holders = False
    meta_value_type = "LONGTEXT"
    # Sessions that create and fill tables at once during a copy.
    copy_sessions: ClassVar[int] = 4
    # How many runs may hold one template at once (each takes one slot lock); one more waits.
    hold_slots: ClassVar[int] = 64
    # A server's longest wait_timeout: an idle run's hold must not be closed under it.
    keep_alive_seconds: ClassVar[int] = 31_536_000
    server_version_sql = "SELECT VERSION()"
    database_exists_sql = "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s"
    databases_sql = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA"

    def _clone(self, source: str, target: str) -> None:
        with self._cursor(None) as cursor:
            self._copy(cursor, source, target)

    def _rename(self, source: str, target: str) -> None:
        # MySQL has no RENAME DATABASE. One RENAME TABLE statement moves every table at once,
        # but it moves neither views nor tables with triggers to another schema (nor routines):
        # a build that has any is published by a copy instead.
        src, dst = self._quote(source), self._quote(target)
        with self._cursor(None) as cursor:
            cursor.execute(
                "SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s)"
                " + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s)"
                " + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s)",
                [source, source, source],
            )
            if cursor.fetchone()[0]:
                self._copy(cursor, source, target)
            else:
                cursor.execute(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    [source],
                )
                tables = [self._quote(str(row[0])) for row in cursor.fetchall()]
                self._create_like(cursor, source, target)
                if tables:
                    moves = ", ".join(f"{src}.{table} TO {dst}.{table}" for table in tables)
                    cursor.execute(f"RENAME TABLE {moves}")
        self._drop(source)

    def _drop(self, name: str) -> None:
        with self._cursor(None) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self._quote(name)}")

    def _create_like(self, cursor: CursorWrapper, source: str, target: str) -> None:
        """Create the empty schema ``target`` with the character set and collation of ``source``."""
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            [source],
        )
        charset, collation = cursor.fetchone()
        cursor.execute(
            f"CREATE DATABASE {self._quote(target)} CHARACTER SET {charset} COLLATE {collation}"
        )

    def _copy(self, cursor: CursorWrapper, source: str, target: str) -> None:
        """Copy the schema ``source`` into a new schema ``target``.

        Tables are created and filled by up to :attr:`copy_sessions` sessions at once: InnoDB
        spends most of a ``CREATE TABLE`` waiting for its new file to reach the disk, and
        those waits overlap. The bookkeeping table, views, routines and triggers follow, in
        this session, once every table is there.
        """
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME",
            [source],
        )
        kinds = {str(name): str(kind) for name, kind in cursor.fetchall()}
        views = [name for name, kind in kinds.items() if kind == "VIEW"]
        tables = [name for name, kind in kinds.items() if kind != "VIEW"]
        statements = self._table_statements(cursor, source, target, tables)
        self._create_like(cursor, source, target)
        # The bookkeeping table goes last: a copy cut short never looks complete.
        meta = statements.pop(self.meta_table, [])
        self._run_batches(cursor, target, list(statements.values()))
        cursor.execute(f"USE {self._quote(target)}")
        self._prepare_session(cursor)
        try:
            for statement in meta:
                cursor.execute(statement)
            self._copy_views(cursor, source, target, views)
            self._copy_routines(cursor, source)
            self._copy_triggers(cursor, source)
        finally:
            cursor.execute("SET SESSION FOREIGN_KEY_CHECKS = 1")

    def _table_statements(
        self, cursor: CursorWrapper, source: str, target: str, tables: list[str]
    ) -> dict[str, list[str]]:
        """Return, per table of ``source``, the statements that create and fill it in ``target``,
        every table after the tables its foreign keys point to."""
        src, dst = self._quote(source), self._quote(target)
        columns = self._insertable_columns(cursor, source)
        statements: dict[str, list[str]] = {}
        for table in _ordered(tables, self._parents(cursor, source)):
            cursor.execute(f"SHOW CREATE TABLE {src}.{self._quote(table)}")
            statements[table] = [str(cursor.fetchone()[1])]
            names = ", ".join(columns.get(table, []))
            if names:
                statements[table].append(
                    f"INSERT INTO {dst}.{self._quote(table)} ({names}) "
                    f"SELECT {names} FROM {src}.{self._quote(table)}"
                )
        return statements

    @staticmethod
    def _parents(cursor: CursorWrapper, source: str) -> dict[str, set[str]]:
        """Return, per table of ``source``, the other tables its foreign keys point to."""
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
        return parents

    def _insertable_columns(self, cursor: CursorWrapper, source: str) -> dict[str, list[str]]:
        """Return, per table of ``source``, its quoted columns that an INSERT may set."""
        cursor.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
            [source],
        )
        columns: dict[str, list[str]] = {}
        for table, column, extra in cursor.fetchall():
            kind = str(extra or "").upper()
            if "GENERATED" in kind and "DEFAULT_GENERATED" not in kind:
                continue  # a generated column computes itself; it cannot be inserted
            columns.setdefault(str(table), []).append(self._quote(str(column)))
        return columns

    def _run_batches(self, cursor: CursorWrapper, target: str, tables: list[list[str]]) -> None:
        """Run each table's statements in ``target``, spread over :attr:`copy_sessions`."""
        batches = [tables[i :: self.copy_sessions] for i in range(self.copy_sessions)]
        batches = [batch for batch in batches if batch]
        if len(batches) > 1:
            with ThreadPoolExecutor(max_workers=len(batches)) as pool:
                list(pool.map(lambda batch: self._run_batch(target, batch), batches))
        elif batches:
            self._run_batch(target, batches[0], cursor)

    @staticmethod
    def _prepare_session(cursor: CursorWrapper) -> None:
        # As mysqldump does: no FK checks while tables and rows arrive in any order, and an
        # explicit 0 in an AUTO_INCREMENT column stays 0.
        cursor.execute("SET SESSION FOREIGN_KEY_CHECKS = 0")
        cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")

    def _run_batch(
        self, target: str, batch: list[list[str]], cursor: CursorWrapper | None = None
    ) -> None:
        """Run each table's statements (create, then fill) in ``target``, in one session."""
        if cursor is None:
            with self._own_cursor(None) as own:
                self._run_batch(target, batch, own)
            return
        cursor.execute(f"USE {self._quote(target)}")
        self._prepare_session(cursor)
        try:
            for table_statements in batch:
                for statement in table_statements:
                    cursor.execute(statement)
        finally:
            cursor.execute("SET SESSION FOREIGN_KEY_CHECKS = 1")

    def _copy_views(
        self, cursor: CursorWrapper, source: str, target: str, views: list[str]
    ) -> None:
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

    def _copy_routines(self, cursor: CursorWrapper, source: str) -> None:
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

    def _copy_triggers(self, cursor: CursorWrapper, source: str) -> None:
        cursor.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
            "ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
            [source],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"SHOW CREATE TRIGGER {self._quote(source)}.{self._quote(name)}")
            cursor.execute(_DEFINER.sub("", str(cursor.fetchone()[2]), count=1))

    def _sessions(self, name: str) -> list[int]:
        with self._cursor(None) as cursor:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST "
                "WHERE DB = %s AND ID <> CONNECTION_ID()",
                [name],
            )
            return [int(row[0]) for row in cursor.fetchall()]

    def _terminate(self, session: int) -> None:
        with self._cursor(None) as cursor:
            try:
                cursor.execute(f"KILL {int(session)}")
            except Exception as exc:  # it ended on its own meanwhile
                logger.debug("KILL %s: %s", session, exc)

    def _schema_rows(self, cursor: CursorWrapper) -> list[Row]:
        cursor.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
            "FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> %s "
            "ORDER BY TABLE_NAME, COLUMN_NAME",
            [self.meta_table],
        )
        return list(cursor.fetchall())

    def _read_counters(self, cursor: CursorWrapper) -> Counters | None:
        # MySQL 8 caches these statistics for a day unless told not to (MariaDB has no cache).
        cursor.execute(self.server_version_sql)
        if "mariadb" not in str(cursor.fetchone()[0]).lower():
            cursor.execute("SET SESSION information_schema_stats_expiry = 0")
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> %s",
            [self.meta_table],
        )
        counters: Counters = {}
        for table, kind, engine, counter in cursor.fetchall():
            if kind == "VIEW":
                continue
            # A rollback undoes only InnoDB's rows; a SEQUENCE or a system-versioned table
            # keeps what it was given: only a fresh clone is the template again.
            if kind != "BASE TABLE" or str(engine or "").lower() != "innodb":
                return None
            if counter is not None:
                counters[str(table)] = int(counter)
        return counters

    def _restore_counters(self, cursor: CursorWrapper, counters: Counters) -> None:
        # Below the largest key in use InnoDB takes the next one up: the rolled-back rows
        # are gone, so the template's value is taken as it is.
        for table, counter in sorted(counters.items()):
            cursor.execute(f"ALTER TABLE {self._quote(table)} AUTO_INCREMENT = {int(counter)}")

    @staticmethod
    def _lock_name(key: str) -> str:
        # GET_LOCK names are at most 64 characters.
        return f"concurrent_test:{hashlib.sha256(key.encode()).hexdigest()[:40]}"

    def _keep_alive(self, session: CursorWrapper) -> None:
        session.execute(f"SET SESSION wait_timeout = {self.keep_alive_seconds}")

    def _session_id(self, session: CursorWrapper) -> str:
        session.execute("SELECT CONNECTION_ID()")
        return str(session.fetchone()[0])

    def _try_lock(self, session: CursorWrapper, key: str) -> bool:
        session.execute("SELECT GET_LOCK(%s, 0)", [self._lock_name(key)])
        return bool(session.fetchone()[0] == 1)

    def _unlock(self, session: CursorWrapper, key: str) -> None:
        session.execute("SELECT RELEASE_LOCK(%s)", [self._lock_name(key)])

    def _slot_names(self, key: str) -> list[str]:
        return [self._lock_name(f"{key}.slot{slot}") for slot in range(self.hold_slots)]

    def _slot_holders(self, session: CursorWrapper, key: str) -> list[int]:
        names = self._slot_names(key)
        session.execute("SELECT " + ", ".join(["IS_USED_LOCK(%s)"] * len(names)), names)
        return [int(value) for value in session.fetchone() if value is not None]

    def _try_hold(self, session: CursorWrapper, key: str) -> str | None:
        intent = self._intent_key(key)
        if not self._try_lock(session, intent):
            return None  # a build waits to replace it (or another run is taking its slot)
        try:
            names = self._slot_names(key)
            session.execute("SELECT " + ", ".join(["IS_FREE_LOCK(%s)"] * len(names)), names)
            for name, free in zip(names, session.fetchone(), strict=True):
                if free == 1:
                    session.execute("SELECT GET_LOCK(%s, 0)", [name])
                    if session.fetchone()[0] == 1:
                        return name
            return None  # every slot is held: wait for a run to end
        finally:
            self._unlock(session, intent)

    def _release_hold(self, session: CursorWrapper, key: str, handle: str) -> None:
        session.execute("SELECT RELEASE_LOCK(%s)", [handle])

    def _try_exclusive(self, session: CursorWrapper, key: str) -> bool:
        # The caller holds the intent lock, so no slot is taken from now on.
        return not self._slot_holders(session, key)

    def _release_exclusive(self, session: CursorWrapper, key: str) -> None:
        return None

    def _hold_sessions(self, session: CursorWrapper, key: str) -> list[tuple[str, str]]:
        holders = self._slot_holders(session, key)
        if not holders:
            return []
        session.execute(
            "SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE ID IN ("
            + ", ".join(["%s"] * len(holders))
            + ")",
            holders,
        )
        hosts = {int(row[0]): str(row[1]) for row in session.fetchall()}
        return [
            (str(holder), f"connection {holder} from {hosts.get(holder, 'an unknown host')}")
            for holder in holders
        ]
