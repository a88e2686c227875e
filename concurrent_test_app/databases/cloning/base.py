"""What every vendor's cloner does: policy in public methods, mechanism in underscore hooks.

A cloner works for one alias and only ever on databases whose names :mod:`..naming` derived:
every public method that creates, clones, renames or drops a database checks its names first.
Its connections are its own (:mod:`.connections`); how runs and builds share templates (holds,
the build lock, claims) is :mod:`.locks`, which it inherits.

The template's bookkeeping lives in a small table inside the template itself
(:attr:`DatabaseCloner.meta_table`): its fingerprint, the schema fingerprint taken right after
the build, the hash of every migration file it was built from, when it was built, and whether
the build completed. Clones copy the table, so a clone kept with ``--keepdb`` can prove which
fingerprint it was cloned from. The table is no model's, so Django's flush and serialization
never see it. A clone's table also records its owner (see :mod:`..owners`), and the
template's key counters, which a used clone is set back to (see :mod:`.counters`).

Vendors differ in capability flags, catalogue SQL kept as data, and the hooks at the end of
the class; nothing outside ``cloning/`` asks which vendor it has.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning.counters import KeyCounters
from concurrent_test_app.databases.cloning.locks import TemplateLocks
from concurrent_test_app.databases.fingerprint import schema_fingerprint
from concurrent_test_app.databases.owners import Owner
from concurrent_test_app.databases.types import Say
from concurrent_test_app.exceptions import (
    DatabaseSetupError,
    DatabaseUnreachableError,
    TemplateBusyError,
)

logger = logging.getLogger(__name__)


class DatabaseCloner(KeyCounters, TemplateLocks):
    """Create, clone, publish, lock, inspect and drop the derived databases of one alias."""

    vendor: ClassVar[str] = ""
    # Whether several clones of one template may be made at the same moment.
    can_clone_concurrently: ClassVar[bool] = True
    # Whether other sessions can block cloning or dropping, so they may need ending.
    can_terminate_sessions: ClassVar[bool] = False
    # Whether a clone must wait until no other session is connected to its template.
    clone_needs_idle_template: ClassVar[bool] = False
    # Whether the server names the process behind a session that holds a template; if not,
    # the holders' own clones are asked (their bookkeeping records the session they hold with).
    can_name_holders: ClassVar[bool] = True
    # Column type of the bookkeeping table's values.
    meta_value_type: ClassVar[str] = "TEXT"
    meta_table: ClassVar[str] = "concurrent_test_template"
    # A template in use is waited for with a short backoff; after the grace its sessions are
    # ended unless a run claims them (see guard()); a clone given no deadline fails after the
    # limit.
    clone_backoff: ClassVar[float] = 0.02
    stray_session_grace: ClassVar[float] = 2.0
    clone_wait_limit: ClassVar[float] = 30.0

    # -- names and capabilities ----------------------------------------------------------

    def test_database_name(self) -> str:
        """Return the name Django would give this alias's test database."""
        return str(self.connection.creation._get_test_db_name())  # type: ignore[attr-defined]

    def is_in_memory(self) -> bool:
        """Return whether Django would test this alias on an in-memory database."""
        return False

    @classmethod
    def connection_in_memory(cls, connection: BaseDatabaseWrapper) -> bool:
        """Return whether ``connection`` points at an in-memory database now."""
        return False

    @classmethod
    def connecting_creates(cls, connection: BaseDatabaseWrapper) -> bool:
        """Return whether connecting would create ``connection``'s database (a missing file)."""
        return False

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
                if self.meta_table not in self.connection.introspection.table_names(cursor):
                    return None
                cursor.execute(f"SELECT name, value FROM {self._quote(self.meta_table)}")
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

    def write_meta(self, name: str, meta: dict[str, str]) -> None:
        """Replace the bookkeeping of ``name`` with ``meta``, in one transaction."""
        naming.assert_derived(name)
        self._write_rows(name, meta, replace_all=True)

    def update_meta(self, name: str, values: dict[str, str]) -> None:
        """Set ``values`` in the bookkeeping of ``name``, keeping its other rows."""
        naming.assert_derived(name)
        self._write_rows(name, values, replace_all=False)

    def swap_meta(self, name: str, values: dict[str, str]) -> dict[str, str]:
        """Set ``values`` in the bookkeeping of ``name``; return the rows it held before.

        One connection and one transaction: a run takes a ready clone with it.
        """
        naming.assert_derived(name)
        return self._write_rows(name, values, replace_all=False)

    def _write_rows(
        self, name: str, values: dict[str, str], *, replace_all: bool
    ) -> dict[str, str]:
        table = self._quote(self.meta_table)
        rows = sorted(values.items())
        wrapper = self._wrapper(name)
        try:
            # One commit, not one per row: every commit waits for the disk.
            wrapper.set_autocommit(False)
            with wrapper.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} "
                    f"(name VARCHAR(100) PRIMARY KEY, value {self.meta_value_type})"
                )
                cursor.execute(f"SELECT name, value FROM {table}")
                before = {str(key): str(value) for key, value in cursor.fetchall()}
                if replace_all:
                    cursor.execute(f"DELETE FROM {table}")
                elif rows:
                    keys = ", ".join(["%s"] * len(rows))
                    cursor.execute(
                        f"DELETE FROM {table} WHERE name IN ({keys})", [key for key, _ in rows]
                    )
                if rows:
                    values_sql = ", ".join(["(%s, %s)"] * len(rows))
                    cursor.execute(
                        f"INSERT INTO {table} (name, value) VALUES {values_sql}",
                        [item for row in rows for item in row],
                    )
            wrapper.commit()
        finally:
            wrapper.close()
        return before

    def mark_complete(self, name: str) -> None:
        """Mark the bookkeeping of ``name`` complete (its last step)."""
        naming.assert_derived(name, kind=naming.TEMPLATE)
        table = self._quote(self.meta_table)
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

    def clone(
        self,
        source: str,
        target: str,
        *,
        deadline: float | None = None,
        say: Say | None = None,
    ) -> float:
        """Make ``target`` a copy of the template ``source``; return the seconds it took.

        ``target`` is dropped first if it exists. The source must be a published template,
        so the real database can never be a clone source. Where sessions on the template block
        a clone, it waits for them until ``deadline`` (a ``time.monotonic()`` value; None:
        :attr:`clone_wait_limit` from now), telling ``say`` whom it waits for.
        """
        naming.assert_derived(source, kind=naming.TEMPLATE)
        naming.assert_derived(target)
        if source == target:
            raise DatabaseSetupError(f"Cannot clone the database {source!r} onto itself.")
        started = time.perf_counter()
        with self.session():
            if not self._exists(source):
                raise DatabaseSetupError(
                    f"The template {source!r} does not exist: it was dropped behind this "
                    "app's back (by hand, or by a version that does not wait for runs); run "
                    "again to build it."
                )
            if self._exists(target):
                self.drop(target)
            if self.clone_needs_idle_template:
                self._clone_when_idle(source, target, deadline, say or logger.info)
            else:
                self._clone(source, target)
        seconds = time.perf_counter() - started
        logger.debug("Cloned %s to %s in %.3fs", source, target, seconds)
        return seconds

    def _clone_when_idle(self, source: str, target: str, deadline: float | None, say: Say) -> None:
        """Clone once no other session is on ``source``, waiting for them as clone() says."""
        started = time.monotonic()
        limit = deadline if deadline is not None else started + self.clone_wait_limit
        delay, ended, told = self.clone_backoff, False, frozenset[int]()
        while True:
            sessions = self._sessions(source)
            if not sessions:
                try:
                    self._clone(source, target)
                    return
                except TemplateBusyError:  # a session connected between the look and the clone
                    sessions = self._sessions(source)
            waited = time.monotonic() - started
            if sessions and waited >= self.stray_session_grace and not ended:
                # Still busy: a stray session (a crashed run's, a shell)? End it, but only while
                # no run claims the sessions on this template.
                ended = self._end_stray_sessions(source)
                if ended:
                    continue
            if time.monotonic() >= limit:
                raise DatabaseSetupError(
                    f"The template {source!r} stayed in use for {waited:.0f}s "
                    f"({self._describe_sessions(sessions)}), so it could not be cloned; close "
                    "the sessions connected to it and retry."
                )
            if sessions and waited >= self.say_after and frozenset(sessions) != told:
                told = frozenset(sessions)
                say(
                    f"Cloning {target} waits for {len(sessions)} other session(s) on the "
                    f"template {source} to end: {self._describe_sessions(sessions)}."
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _end_stray_sessions(self, template: str) -> bool:
        """End the sessions on ``template`` unless a run claims them (guard()); return whether."""
        with self.claimed(self._attached_key(template)) as free:
            if free:
                self.terminate_sessions(template)
            return free

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

    def _describe_holders(self, template: str, sessions: list[tuple[str, str]]) -> list[str]:
        """Name each holding session's run, asking its clones where the server cannot tell."""
        if self.can_name_holders or not sessions:
            return super()._describe_holders(template, sessions)
        parsed = naming.assert_derived(template, kind=naming.TEMPLATE)
        owners: dict[str, Owner] = {}
        for name in self.list_names(parsed.prefix):
            clone = naming.assert_derived(name)
            if clone.kind != naming.CLONE or clone.fingerprint != parsed.fingerprint:
                continue
            try:
                owner = Owner.from_meta(self.read_meta(name) or {})
            except Exception:  # dropped or being made meanwhile: it names nobody
                continue
            if owner is not None and owner.session:
                owners[owner.session] = owner
        return [
            f"{owners[sid].describe()} ({detail})" if sid in owners else detail
            for sid, detail in sessions
        ]

    # -- hooks: the vendor mechanism ---------------------------------------------------------

    # A database server's hooks are the same SQL but for these catalogue queries; a vendor
    # without a server (SQLite) overrides the hooks instead.
    server_version_sql: ClassVar[str] = ""
    database_exists_sql: ClassVar[str] = ""  # one parameter: the database name
    databases_sql: ClassVar[str] = ""  # every database name, one per row

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

    def _is_damaged(self, exc: BaseException) -> bool:
        """Return whether ``exc`` says the database itself is damaged (not unreachable)."""
        return False

    def _describe_sessions(self, sessions: list[int]) -> str:
        return ", ".join(f"session {session}" for session in sessions) or "no session"

    def _terminate(self, session: int) -> None:
        return None
