"""What every vendor's cloner does: policy in public methods, mechanism in underscore hooks.

A cloner works for one alias and only ever on databases whose names
:mod:`concurrent_test_app.naming` derived: every public method that creates, clones, renames
or drops a database checks its names first. It opens its own connections (to the server, or
to one named database) and never touches ``django.db.connections``, so it is safe to use from
several threads at once.

The template's bookkeeping lives in a small table inside the template itself
(:attr:`DatabaseCloner.meta_table`): its fingerprint, the schema fingerprint taken right after
the build, the hash of every migration file it was built from, when it was built, and whether
the build completed. Clones copy the table, so a clone kept with ``--keepdb`` can prove which
fingerprint it was cloned from. The table is no model's, so Django's flush and serialization
never see it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.db.backends.base.base import NO_DB_ALIAS

from .. import naming
from ..exceptions import DatabaseSetupError, DatabaseUnreachableError
from ..fingerprint import schema_fingerprint

logger = logging.getLogger(__name__)


class DatabaseCloner:
    """Create, clone, publish, lock, inspect and drop the derived databases of one alias."""

    vendor: ClassVar[str] = ""
    # Whether the databases live on a server (False: files on this machine).
    has_server: ClassVar[bool] = True
    # Whether several clones of one template may be made at the same moment.
    can_clone_concurrently: ClassVar[bool] = True
    # Whether other sessions can block cloning or dropping, so they may need ending.
    can_terminate_sessions: ClassVar[bool] = False
    # Column type of the bookkeeping table's values.
    meta_value_type: ClassVar[str] = "TEXT"
    meta_table: ClassVar[str] = "concurrent_test_template"
    # The NAME that connects to the server rather than to one database (Django's own choice
    # for its server connections); the alias's connection points there while migration
    # modules load for the fingerprint, since the real database may not exist.
    server_database_name: ClassVar[str | None] = None
    # How long to wait for another process's build of the same template.
    lock_timeout: ClassVar[float] = 1800.0
    lock_poll_interval: ClassVar[float] = 0.1

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.alias: str = connection.alias
        # A snapshot: the live settings_dict's NAME moves while templates are built.
        self.settings_dict: dict[str, Any] = dict(connection.settings_dict)
        # The server connection that session() shares, one per thread.
        self._local = threading.local()

    # -- names and settings --------------------------------------------------------------

    def test_database_name(self) -> str:
        """Return the name Django would give this alias's test database."""
        return str(self.connection.creation._get_test_db_name())

    def settings_for(self, name: str) -> dict[str, Any]:
        """Return a settings dict that connects to the derived database ``name``."""
        naming.assert_derived(name)
        return {**self.settings_dict, "NAME": self._physical_name(name)}

    def _physical_name(self, name: str) -> str:
        return name

    # -- reading -------------------------------------------------------------------------

    def server_version(self) -> str:
        """Return the server's version, part of every fingerprint."""
        return self._server_version()

    def exists(self, name: str) -> bool:
        """Return whether the derived database ``name`` exists."""
        naming.assert_derived(name)
        return self._exists(name)

    def list_names(self, prefix: str) -> list[str]:
        """Return the derived databases under ``prefix`` (one project's alias), sorted."""
        return sorted(name for name in self._list_databases() if naming.belongs_to(name, prefix))

    def in_use(self, name: str) -> bool:
        """Return whether another session is connected to ``name``."""
        naming.assert_derived(name)
        return bool(self._sessions(name))

    def read_meta(self, name: str) -> dict[str, str] | None:
        """Return the bookkeeping of ``name``, or None when it has none (its build never ended).

        Raise DatabaseUnreachableError when ``name`` exists but cannot be read: a template
        that cannot be reached is not an incomplete one, and must never be rebuilt as one.
        """
        naming.assert_derived(name)
        try:
            with self._cursor(name) as cursor:
                if self.meta_table not in self._table_names(cursor):
                    return None
                table = self.connection.ops.quote_name(self.meta_table)
                cursor.execute(f"SELECT name, value FROM {table}")
                return {str(key): str(value) for key, value in cursor.fetchall()}
        except Exception as exc:
            # A copy cut short, or a database dropped by another process since it was listed.
            if self._is_damaged(exc) or self._gone(name):
                logger.debug("No bookkeeping in %s: %s", name, exc)
                return None
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnreachableError(
                f"Cannot read the template database {name!r} of alias {self.alias!r} "
                f"({type(exc).__name__}: {first_line}); check that the server is running and "
                "that the user in DATABASES may connect to it, then retry."
            ) from exc

    def _gone(self, name: str) -> bool:
        try:
            return not self._exists(name)
        except Exception:  # the server itself cannot be reached: not gone, unreachable
            return False

    def _table_names(self, cursor: Any) -> set[str]:
        return set(self.connection.introspection.table_names(cursor))

    def _is_damaged(self, exc: BaseException) -> bool:
        """Return whether ``exc`` says the database itself is damaged (not unreachable)."""
        return False

    def write_meta(self, name: str, meta: dict[str, str]) -> None:
        """Replace the bookkeeping of ``name`` with ``meta``, in one transaction."""
        naming.assert_derived(name)
        table = self.connection.ops.quote_name(self.meta_table)
        rows = sorted(meta.items())
        wrapper = self._wrapper(name)
        try:
            # One commit, not one per row: every commit waits for the disk.
            wrapper.set_autocommit(False)
            with wrapper.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} "
                    f"(name VARCHAR(100) PRIMARY KEY, value {self.meta_value_type})"
                )
                cursor.execute(f"DELETE FROM {table}")
                if rows:
                    values = ", ".join(["(%s, %s)"] * len(rows))
                    cursor.execute(
                        f"INSERT INTO {table} (name, value) VALUES {values}",
                        [item for row in rows for item in row],
                    )
            wrapper.commit()
        finally:
            wrapper.close()

    def mark_complete(self, name: str) -> None:
        """Mark the bookkeeping of ``name`` complete (its last step)."""
        naming.assert_derived(name, kind=naming.TEMPLATE)
        table = self.connection.ops.quote_name(self.meta_table)
        with self._cursor(name) as cursor:
            cursor.execute(f"UPDATE {table} SET value = %s WHERE name = %s", ["1", "complete"])
            if cursor.rowcount != 1:
                raise DatabaseSetupError(f"The template {name!r} has no bookkeeping to complete.")

    def schema_fingerprint(self, name: str) -> str:
        """Return a hash of the schema of ``name`` (its bookkeeping table left out)."""
        naming.assert_derived(name)
        with self._cursor(name) as cursor:
            return schema_fingerprint(self._schema_rows(cursor))

    def applied_migrations(self, name: str) -> int:
        """Return how many migrations ``name`` records as applied."""
        naming.assert_derived(name)
        try:
            with self._cursor(name) as cursor:
                cursor.execute("SELECT COUNT(*) FROM django_migrations")
                return int(cursor.fetchone()[0])
        except Exception:  # a new, empty database has no django_migrations table yet
            return 0

    # -- changing ------------------------------------------------------------------------

    def create(self, name: str) -> None:
        """Create the empty database ``name`` (a template being built)."""
        naming.assert_derived(name, kind=naming.BUILDING)
        logger.debug("Creating %s", name)
        self._create(name)

    def clone(self, source: str, target: str) -> float:
        """Make ``target`` a copy of the template ``source``; return the seconds it took.

        ``target`` is dropped first if it exists. The source must be a published template,
        so the real database can never be a clone source.
        """
        naming.assert_derived(source, kind=naming.TEMPLATE)
        naming.assert_derived(target)
        if source == target:
            raise DatabaseSetupError(f"Cannot clone the database {source!r} onto itself.")
        started = time.perf_counter()
        with self.session():
            if self._exists(target):
                self.drop(target)
            self._clone(source, target)
        seconds = time.perf_counter() - started
        logger.debug("Cloned %s to %s in %.3fs", source, target, seconds)
        return seconds

    def publish(self, building: str, template: str) -> None:
        """Give the finished build ``building`` its published name ``template``."""
        naming.assert_derived(building, kind=naming.BUILDING)
        naming.assert_derived(template, kind=naming.TEMPLATE)
        with self.session():
            self.terminate_sessions(building)
            self._rename(building, template)

    def drop(self, name: str, *, force: bool = True) -> bool:
        """Drop ``name`` if it exists; return whether it was dropped.

        With ``force`` the sessions on it are ended first (it is ours and about to go); without,
        a database somebody is connected to is left alone.
        """
        naming.assert_derived(name)
        with self.session():
            if not self._exists(name):
                return False
            if force:
                self.terminate_sessions(name)
            elif self._sessions(name):
                logger.info("Not dropping %s: another session is using it", name)
                return False
            logger.debug("Dropping %s", name)
            self._drop(name)
        return True

    def terminate_sessions(self, name: str) -> int:
        """End the other sessions on the derived database ``name``; return how many."""
        naming.assert_derived(name)
        if not self.can_terminate_sessions:
            return 0
        sessions = self._sessions(name)
        for session in sessions:
            self._terminate(session)
        if sessions:
            logger.info("Ended %d session(s) on %s", len(sessions), name)
        return len(sessions)

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold the lock named ``key`` (one project's alias) across processes and hosts."""
        started = time.monotonic()
        warned = False
        with self._lock_session(key) as session:
            while not self._try_lock(session, key):
                waited = time.monotonic() - started
                if waited > self.lock_timeout:
                    raise DatabaseSetupError(
                        f"Waited {waited:.0f}s for another process building the template "
                        f"{key!r}; stop it or drop the lock holder's session, then retry."
                    )
                if not warned:
                    logger.info("Waiting for another process to finish building %s", key)
                    warned = True
                time.sleep(self.lock_poll_interval)
            try:
                yield
            finally:
                self._unlock(session, key)

    @contextmanager
    def guard(self, template: str) -> Iterator[None]:
        """Hold a shared claim on ``template`` while this process stays connected to it.

        Several runs may hold it at once; :meth:`lock` of the template's name waits until every
        claim is released, so no build replaces the template and no clone ends a claimant's
        session on it meanwhile. Vendors whose templates are never blocked by sessions need
        none. (Builds lock the project's prefix instead, so one branch's build never waits
        for another branch's runs.)
        """
        naming.assert_derived(template, kind=naming.TEMPLATE)
        yield

    def try_lock(self, key: str) -> bool:
        """Return whether nobody holds the lock ``key`` right now (taking and releasing it)."""
        with self._lock_session(key) as session:
            if not self._try_lock(session, key):
                return False
            self._unlock(session, key)
            return True

    # -- connections -----------------------------------------------------------------------

    def _wrapper(self, name: str | None) -> Any:
        """Return a new, unconnected DatabaseWrapper for ``name`` (None: the server).

        Its alias is Django's NO_DB_ALIAS, as Django's own server connections use: a project's
        ``connection_created`` receivers (django.contrib.postgres's type handlers, say) skip
        it, where under the project's alias they would look the alias up in ``connections``
        and reach for the real database, which CI servers often do not have.
        """
        settings_dict = {**self.settings_dict, "NAME": self.server_database_name}
        if name is not None:
            settings_dict = self.settings_for(name)
        return self.connection.__class__(settings_dict, NO_DB_ALIAS)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Share one server connection among the calls made inside (in this thread)."""
        if not self.has_server or getattr(self._local, "cursor", None) is not None:
            yield
            return
        with self._own_cursor(None) as cursor:
            self._local.cursor = cursor
            try:
                yield
            finally:
                self._local.cursor = None

    @contextmanager
    def _cursor(self, name: str | None) -> Iterator[Any]:
        """Yield a cursor on ``name`` (None: the server, shared inside :meth:`session`)."""
        shared = getattr(self._local, "cursor", None) if name is None else None
        if shared is not None:
            yield shared
            return
        with self._own_cursor(name) as cursor:
            yield cursor

    @contextmanager
    def _own_cursor(self, name: str | None) -> Iterator[Any]:
        """Yield a cursor on a connection of its own to ``name`` (None: the server)."""
        wrapper = self._wrapper(name)
        try:
            with wrapper.cursor() as cursor:
                yield cursor
        finally:
            wrapper.close()

    # -- hooks: the vendor mechanism ---------------------------------------------------------

    # A database server's hooks are the same SQL but for these catalogue queries; a vendor
    # without a server (SQLite) overrides the hooks instead.
    server_version_sql: ClassVar[str] = ""
    database_exists_sql: ClassVar[str] = ""  # one parameter: the database name
    databases_sql: ClassVar[str] = ""  # every database name, one per row

    def _quote(self, name: str) -> str:
        return str(self.connection.ops.quote_name(name))

    def _server_version(self) -> str:
        with self._cursor(None) as cursor:
            cursor.execute(self.server_version_sql)
            return str(cursor.fetchone()[0])

    def _exists(self, name: str) -> bool:
        with self._cursor(None) as cursor:
            cursor.execute(self.database_exists_sql, [name])
            return cursor.fetchone() is not None

    def _list_databases(self) -> list[str]:
        with self._cursor(None) as cursor:
            cursor.execute(self.databases_sql)
            return [str(row[0]) for row in cursor.fetchall()]

    def _create(self, name: str) -> None:
        # The same suffix Django's own test database gets (TEST CHARSET, COLLATION, TEMPLATE).
        suffix = self.connection.creation.sql_table_creation_suffix()
        with self._cursor(None) as cursor:
            cursor.execute(f"CREATE DATABASE {self._quote(name)} {suffix}")

    def _clone(self, source: str, target: str) -> None:
        raise NotImplementedError

    def _rename(self, source: str, target: str) -> None:
        raise NotImplementedError

    def _drop(self, name: str) -> None:
        raise NotImplementedError

    def _schema_rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _sessions(self, name: str) -> list[Any]:
        return []

    def _terminate(self, session: Any) -> None:
        return None

    @contextmanager
    def _lock_session(self, key: str) -> Iterator[Any]:
        # A server session of its own: a session-level lock lives exactly as long as it.
        with self._own_cursor(None) as cursor:
            yield cursor

    def _try_lock(self, session: Any, key: str) -> bool:
        raise NotImplementedError

    def _unlock(self, session: Any, key: str) -> None:
        raise NotImplementedError
