"""What every vendor's cloner does: policy in public methods, mechanism in underscore hooks.

A cloner works for one alias and only ever on databases whose names
:mod:`..naming` derived: every public method that creates, clones, renames
or drops a database checks its names first. It opens its own connections (to the server, or
to one named database) and never touches ``django.db.connections``, so it is safe to use from
several threads at once.

The template's bookkeeping lives in a small table inside the template itself
(:attr:`DatabaseCloner.meta_table`): its fingerprint, the schema fingerprint taken right after
the build, the hash of every migration file it was built from, when it was built, and whether
the build completed. Clones copy the table, so a clone kept with ``--keepdb`` can prove which
fingerprint it was cloned from. The table is no model's, so Django's flush and serialization
never see it. A clone's table also records its owner (see :mod:`..owners`).

Runs and builds share templates through three kinds of claim, each a vendor mechanism behind
one policy here: :meth:`DatabaseCloner.hold` (shared, for a run's whole life: the template is
never replaced or dropped under it), :meth:`DatabaseCloner.replacing` (exclusive, for a build
about to replace or drop it: it waits for the holders, by name, and new holders wait for it)
and :meth:`DatabaseCloner.lock` (exclusive, one build of a project's alias at a time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.db.backends.base.base import NO_DB_ALIAS

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.fingerprint import schema_fingerprint
from concurrent_test_app.databases.owners import Owner
from concurrent_test_app.exceptions import (
    DatabaseSetupError,
    DatabaseUnreachableError,
    TemplateBusyError,
    TemplateInUseError,
)

logger = logging.getLogger(__name__)

# Where a wait is told to the user: the command's output, the run's log (once per change).
Say = Callable[[str], None]


class TemplateHold:
    """A run's shared claim on one template, and on the kept clones it takes (see
    :meth:`DatabaseCloner.hold`). Everything it claims is released with it."""

    def __init__(self, cloner: DatabaseCloner, session: Any, template: str) -> None:
        self.cloner = cloner
        self.template = template
        self._session = session
        # Recorded in the run's clones, so a builder waiting for this hold can name the run.
        self.session_id: str = cloner._session_id(session)

    def claim(self, name: str) -> bool:
        """Claim the clone ``name`` until the hold ends; return False if another run has it."""
        naming.assert_derived(name, kind=naming.CLONE)
        return bool(self.cloner._try_lock(self._session, name))


class DatabaseCloner:
    """Create, clone, publish, lock, inspect and drop the derived databases of one alias."""

    vendor: ClassVar[str] = ""
    # Whether the databases live on a server (False: files on this machine).
    has_server: ClassVar[bool] = True
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
    # The NAME that connects to the server rather than to one database (Django's own choice
    # for its server connections); the alias's connection points there while migration
    # modules load for the fingerprint, since the real database may not exist.
    server_database_name: ClassVar[str | None] = None
    # How long to wait for another process's build of the same template.
    lock_timeout: ClassVar[float] = 1800.0
    lock_poll_interval: ClassVar[float] = 0.1
    # A template in use is waited for with a short backoff; after the grace its sessions are
    # ended unless a run claims them (see guard()); a clone given no deadline fails after the
    # limit. Waits shorter than say_after (another run reading the bookkeeping) go unsaid.
    clone_backoff: ClassVar[float] = 0.02
    stray_session_grace: ClassVar[float] = 2.0
    clone_wait_limit: ClassVar[float] = 30.0
    say_after: ClassVar[float] = 1.0

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
        self._write_rows(name, meta, replace_all=True)

    def update_meta(self, name: str, values: dict[str, str]) -> None:
        """Set ``values`` in the bookkeeping of ``name``, keeping its other rows."""
        naming.assert_derived(name)
        self._write_rows(name, values, replace_all=False)

    def _write_rows(self, name: str, values: dict[str, str], *, replace_all: bool) -> None:
        table = self.connection.ops.quote_name(self.meta_table)
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
        delay, ended, told = self.clone_backoff, False, frozenset[Any]()
        while True:
            sessions = self._sessions(source)
            if not sessions:
                try:
                    self._clone(source, target)
                    return
                except (
                    TemplateBusyError
                ):  # another session connected between the look and the clone
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
    def claimed(self, key: str) -> Iterator[bool]:
        """Hold the lock ``key`` for the block if nobody holds it; yield whether it was free."""
        with self._lock_session(key) as session:
            if not self._try_lock(session, key):
                yield False
                return
            try:
                yield True
            finally:
                self._unlock(session, key)

    def try_lock(self, key: str) -> bool:
        """Return whether nobody holds the lock ``key`` right now (taking and releasing it)."""
        with self.claimed(key) as free:
            return free

    @contextmanager
    def guard(self, template: str) -> Iterator[None]:
        """Claim the sessions this process opens on ``template`` while the block runs.

        A clone that finds sessions on its template ends them as strays after a grace
        (:meth:`_end_stray_sessions`), unless some process claims them: a run's parent claims
        its own while it is connected to the template (checks, serialization), so another
        run's clone waits for it instead of ending it. Vendors whose clones no session blocks
        need no claim.
        """
        naming.assert_derived(template, kind=naming.TEMPLATE)
        yield

    @contextmanager
    def hold(
        self,
        template: str,
        *,
        label: str = "",
        timeout: float | None = None,
        say: Say | None = None,
    ) -> Iterator[TemplateHold]:
        """Hold a shared claim on ``template`` while the block runs (a run: its whole life).

        Any number of runs hold a template at once; :meth:`replacing` waits until none does,
        so no build replaces or drops a template that a run may still clone from. A build
        waiting to replace it goes first: from then on a new hold waits, saying so, for up to
        ``timeout`` seconds (default :attr:`lock_timeout`). ``label`` names the holder where
        the vendor can show it to others (PostgreSQL's application_name, SQLite's record).
        """
        naming.assert_derived(template, kind=naming.TEMPLATE)
        limit = self.lock_timeout if timeout is None else timeout
        started, told = time.monotonic(), False
        with self._lock_session(template, label=label) as session:
            while True:
                handle = self._try_hold(session, template)
                if handle is not None:
                    break
                waited = time.monotonic() - started
                if waited > limit:
                    raise DatabaseSetupError(
                        f"Waited {waited:.0f}s to use the template {template!r} while another "
                        "process replaced or dropped it (build_test_template --force or "
                        "--prune); let it finish or stop it, then retry."
                    )
                if not told and waited >= self.say_after:  # not for another run's moment
                    (say or logger.info)(
                        f"Waiting for another process that is replacing or dropping the "
                        f"template {template} (build_test_template --force or --prune)."
                    )
                    told = True
                time.sleep(self.lock_poll_interval)
            try:
                yield TemplateHold(self, session, template)
            finally:
                self._release_hold(session, template, handle)

    @contextmanager
    def replacing(self, template: str, *, timeout: float, say: Say | None = None) -> Iterator[None]:
        """Have ``template`` to oneself while the block runs: to replace it, or to drop it.

        From the moment this starts, new holds (:meth:`hold`) wait. The runs that hold it
        already are waited for, naming them each time they change, for up to ``timeout``
        seconds; then TemplateInUseError names them.
        """
        naming.assert_derived(template, kind=naming.TEMPLATE)
        say = say or logger.info
        intent = self._intent_key(template)
        started = time.monotonic()
        with self._lock_session(template) as session:
            # Another process about to replace the same template (a build of another checkout
            # of the project, say) goes first; builds of one project already queue on lock().
            while not self._try_lock(session, intent):
                if time.monotonic() - started > self.lock_timeout:
                    raise DatabaseSetupError(
                        f"Waited {self.lock_timeout:.0f}s for another process replacing the "
                        f"template {template!r}; stop it, then retry."
                    )
                time.sleep(self.lock_poll_interval)
            try:
                told: frozenset[str] | None = None
                holders: list[str] = []
                while not self._try_exclusive(session, template):
                    sessions = self._hold_sessions(session, template)
                    if frozenset(sid for sid, _ in sessions) != told:
                        told = frozenset(sid for sid, _ in sessions)
                        holders = self._describe_holders(template, sessions)
                        if not holders:  # released since, or not visible: look again
                            holders = ["a run that cannot be named from here"]
                        if time.monotonic() - started < timeout:
                            say(
                                f"Waiting for {len(holders)} run(s) holding the template "
                                f"{template}: {'; '.join(holders)} (for up to {timeout:.0f}s, "
                                "DJANGO_TEST_TEMPLATE_WAIT)."
                            )
                    waited = time.monotonic() - started
                    if waited >= timeout:
                        raise TemplateInUseError(
                            f"The template {template!r} is still held after {waited:.0f}s by "
                            f"{len(holders)} run(s): {'; '.join(holders)}; let them finish or "
                            f"stop them, or raise DJANGO_TEST_TEMPLATE_WAIT (now {timeout:g} "
                            "seconds), then retry."
                        )
                    time.sleep(self.lock_poll_interval)
                try:
                    yield
                finally:
                    self._release_exclusive(session, template)
            finally:
                self._unlock(session, intent)

    def holders(self, template: str) -> list[str]:
        """Return who holds ``template`` right now (see hold()), one description each."""
        naming.assert_derived(template, kind=naming.TEMPLATE)
        with self._lock_session(template) as session:
            sessions = self._hold_sessions(session, template)
        return self._describe_holders(template, sessions)

    def _describe_holders(self, template: str, sessions: list[tuple[str, str]]) -> list[str]:
        """Name each holding session's run, asking its clones where the server cannot tell."""
        if self.can_name_holders or not sessions:
            return [detail for _, detail in sessions]
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

    @staticmethod
    def _intent_key(template: str) -> str:
        return f"{template}.intent"

    @staticmethod
    def _attached_key(template: str) -> str:
        return f"{template}.attached"

    # -- connections -----------------------------------------------------------------------

    def _wrapper(self, name: str | None, options: dict[str, Any] | None = None) -> Any:
        """Return a new, unconnected DatabaseWrapper for ``name`` (None: the server).

        Its alias is Django's NO_DB_ALIAS, as Django's own server connections use: a project's
        ``connection_created`` receivers (django.contrib.postgres's type handlers, say) skip
        it, where under the project's alias they would look the alias up in ``connections``
        and reach for the real database, which CI servers often do not have.
        """
        settings_dict = {**self.settings_dict, "NAME": self.server_database_name}
        if name is not None:
            settings_dict = self.settings_for(name)
        if options:
            settings_dict["OPTIONS"] = {**(settings_dict.get("OPTIONS") or {}), **options}
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
    def _own_cursor(self, name: str | None, options: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield a cursor on a connection of its own to ``name`` (None: the server)."""
        wrapper = self._wrapper(name, options)
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

    def _describe_sessions(self, sessions: list[Any]) -> str:
        return ", ".join(f"session {session}" for session in sessions) or "no session"

    def _terminate(self, session: Any) -> None:
        return None

    @contextmanager
    def _lock_session(self, key: str, label: str = "") -> Iterator[Any]:
        # A server session of its own: a session-level lock lives exactly as long as it.
        with self._own_cursor(None, self._label_options(label)) as cursor:
            self._keep_alive(cursor)
            yield cursor

    def _label_options(self, label: str) -> dict[str, Any]:
        """Return connection OPTIONS that show ``label`` to the server's other sessions."""
        return {}

    def _keep_alive(self, session: Any) -> None:
        """Keep an idle lock session open as long as its process lives (a run may be long)."""

    def _session_id(self, session: Any) -> str:
        return ""

    def _try_lock(self, session: Any, key: str) -> bool:
        raise NotImplementedError

    def _unlock(self, session: Any, key: str) -> None:
        raise NotImplementedError

    def _try_hold(self, session: Any, key: str) -> Any:
        """Take a shared claim on ``key`` unless a builder intends to replace it; None if not."""
        raise NotImplementedError

    def _release_hold(self, session: Any, key: str, handle: Any) -> None:
        raise NotImplementedError

    def _try_exclusive(self, session: Any, key: str) -> bool:
        """Take ``key`` exclusively if no hold is on it (the caller holds its intent lock)."""
        return self._try_lock(session, key)

    def _release_exclusive(self, session: Any, key: str) -> None:
        self._unlock(session, key)

    def _hold_sessions(self, session: Any, key: str) -> list[tuple[str, str]]:
        """Return (session id, description) of every session holding ``key``."""
        return []
