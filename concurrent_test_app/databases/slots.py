"""The test databases of a run: a template per database, one clone per worker slot.

The parent asks :class:`WorkerDatabases` for everything; a worker calls :func:`connect_worker`
with the plain settings the parent gave it. Every name comes from
:mod:`concurrent_test_app.databases.naming`; templates are built or reused by
:mod:`concurrent_test_app.databases.template` and copied by the vendor's cloner.

Set-up follows Django's ``setup_databases``: aliases that share one database (same test
signature) get one template, ``TEST["MIRROR"]`` aliases point at their primary, and the
contents of aliases that need it are serialized once every database is ready.

Other runs on the same server are never broken: the run holds each template for its whole
life and claims the kept clones it uses (:mod:`.holds`); set-up first drops the clones of runs
that are gone (:mod:`.sweep`).

What set-up has to say goes to the ``log`` it is given (the runner's, honouring --verbosity);
once workers run, :meth:`WorkerDatabases.bind_run` gives it the run's own log.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

from django.db import connections
from django.test.utils import (  # type: ignore[attr-defined]  # missing from the stubs
    NullTimeKeeper,
    get_unique_databases_and_mirrors,
)

from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases import holds, naming, ready
from concurrent_test_app.databases.attach import EXTRA
from concurrent_test_app.databases.holds import RunDatabase
from concurrent_test_app.databases.owners import Owner
from concurrent_test_app.databases.schema import migration_drift_warning
from concurrent_test_app.databases.sweep import Sweep, sweep_clones
from concurrent_test_app.databases.teardown import Teardown
from concurrent_test_app.databases.template import TemplateBuilder, TemplateResult, repoint
from concurrent_test_app.databases.types import Say
from concurrent_test_app.exceptions import CloneUnavailableError
from concurrent_test_app.protocol import WorkerSettings
from concurrent_test_app.reports.records import TemplateRecord

logger = logging.getLogger(__name__)

# How each way of making a template ready is told ("Reused template for alias 'default' ...").
_ACTIONS = {"reused": "Reused", "built": "Built", "incremental": "Updated"}


class WorkerDatabases(Teardown):
    """Build or reuse every template the suite needs, and clone it once per worker slot."""

    def __init__(
        self,
        aliases: dict[str, bool],
        *,
        log: Say,
        verbosity: int = 1,
        interactive: bool = False,
        keepdb: bool = False,
        debug_sql: bool = False,
        time_keeper: Any = None,  # Django's TimeKeeper or NullTimeKeeper (untyped in the stubs)
        rebuild_template: bool = False,
    ) -> None:
        self.aliases = aliases
        # Set-up messages go here; it honours --verbosity. More detail at verbosity 2.
        self.log = log
        self.verbosity = verbosity
        self.interactive = interactive
        self.keepdb = keepdb
        self.debug_sql = debug_sql
        self.time_keeper = time_keeper or NullTimeKeeper()
        self.rebuild_template = rebuild_template
        # Ready clones (see databases/ready.py); --keepdb keeps its own clones instead.
        self.ready_clones = app_settings.ready_clones and not keepdb
        # Kept clones carry the fixed token naming.KEEPDB_TOKEN; everything else this one.
        self.run_token = naming.new_run_token()
        self.templates: list[TemplateRecord] = []
        self.clone_seconds: list[float] = []
        self._databases: list[RunDatabase] = []
        self._mirrors: dict[str, str] = {}  # mirror alias -> owner alias
        self._old_names: dict[str, str | None] = {}
        self._prepared: set[int] = set()
        self._flushed: set[int] = set()
        self._drift_checked = False
        # Claims on the sessions the parent opens on its templates during set-up (guard()).
        self._guards = ExitStack()
        # The run's hold on each template, and the kept clones it claims: released last.
        self._holds = ExitStack()
        self._owner = Owner.current()
        # Set by bind_run(): how long clones may wait, and where waiting is said.
        self._deadline: float | None = None
        self._say: Say = log
        self._running = False
        # The teardown's work on the clones, between begin_teardown() and end_teardown().
        self._clearing: Future[list[BaseException]] | None = None

    # -- set-up ------------------------------------------------------------------------------

    def bind_run(self, *, deadline: float | None, say: Say) -> None:
        """Let clones wait for other runs until ``deadline`` (the run's global limit, a
        ``time.monotonic()`` value; None: no limit), saying so through ``say``."""
        self._deadline = deadline
        self._say = say

    def setup(self) -> None:
        """Make every alias's template ready and point the parent's connections at it."""
        try:
            self._setup()
        except BaseException:
            self._guards.close()
            self._holds.close()
            raise

    def _setup(self) -> None:
        test_databases, mirrored = get_unique_databases_and_mirrors(set(self.aliases))
        for _db_name, group in test_databases.values():
            self._databases.append(self._set_up(list(group)))
        for alias, primary in mirrored.items():
            self._old_names.setdefault(alias, connections[alias].settings_dict["NAME"])
            connections[alias].creation.set_as_test_mirror(connections[primary].settings_dict)
            self._mirrors[alias] = self._owner_of(primary)
        for database in self._databases:
            if self.aliases.get(database.owner, True):
                # Any: the attribute is Django's runner's own, unknown to BaseDatabaseWrapper.
                serialized: Any = connections[database.owner]
                serialized._test_serialized_contents = serialized.creation.serialize_db_to_string()
        if self.debug_sql:
            for alias in connections:
                connections[alias].force_debug_cursor = True

    def _set_up(self, group: list[str]) -> RunDatabase:
        """Make the template of ``group`` (the aliases on one database) ready and held, and
        point the aliases at it."""
        owner = group[0]
        for alias in group:
            self._old_names.setdefault(alias, connections[alias].settings_dict["NAME"])
        builder = TemplateBuilder(owner, log=self.log, verbosity=self.verbosity)
        # One server connection for the catalogue queries of a warm set-up, not one each.
        with self.time_keeper.timed(f"  Creating '{owner}'"), builder.cloner.session():
            # The clones that no live run owns go first, before this run holds anything.
            self._report_sweep(sweep_clones(builder, stale_kept=self.keepdb))
            result, hold = holds.hold_template(
                builder,
                force=self.rebuild_template,
                label=f"concurrent_test run {self._owner.describe()}",
                holds=self._holds,
                say=self.log,
            )
        self._report_template(owner, result)
        cloner = builder.cloner
        database = RunDatabase(
            owner, group, cloner, result.name, result.fingerprint, hold, cloner.is_in_memory()
        )
        database.built_at = result.built_at
        # The parent connects to the template (checks, serialization) until the first
        # clone: claim it, so another run's clone waits for it instead of ending it.
        self._guards.enter_context(cloner.guard(result.name))
        connection = connections[owner]
        repoint(connection, cloner.settings_for(result.name)["NAME"])
        for alias in group[1:]:
            connections[alias].creation.set_as_test_mirror(connection.settings_dict)
        return database

    def _owner_of(self, alias: str) -> str:
        for database in self._databases:
            if alias in database.aliases:
                return database.owner
        return self._mirrors.get(alias, alias)

    def _report_template(self, owner: str, result: TemplateResult) -> None:
        if not result.reused and not self._drift_checked:
            # Checked when a template is built (and by build_test_template), not on every
            # warm run: the check costs about as much as the rest of a warm set-up.
            warning = migration_drift_warning()
            if warning:
                logger.warning("%s", warning)
                self.log(f"Warning: {warning}")
            self._drift_checked = True
        if not result.reused and self.verbosity >= 2:
            self.log(f"Template for alias '{owner}' was {result.reason}.")
        self.log(
            f"{_ACTIONS[result.mode]} template for alias '{owner}'"
            + (f" ('{result.name}')" if self.verbosity >= 2 else "")
            + f" in {result.seconds:.2f}s"
            + (f", {result.applied} migrations applied" if not result.reused else "")
            + "."
        )
        self.templates.append(
            TemplateRecord(owner, result.name, result.fingerprint, result.reused, result.seconds)
        )

    def _report_sweep(self, sweep: Sweep) -> None:
        for name, why in sweep.dropped:
            self.log(f"Dropped the clone {name}: {why}.")
        if self.verbosity >= 2:
            for name, why in sweep.left:
                self.log(f"Left the clone {name}: {why}.")

    # -- worker slots ------------------------------------------------------------------------

    def prepare_slot(self, slot: int) -> WorkerSettings:
        """(Re)create the clones of worker ``slot`` and return what the worker connects with.

        The first call for a slot under ``--keepdb`` reuses a kept clone whose fingerprint
        matches, unless another run has claimed it; any later call (a replaced worker) always
        makes a fresh clone. Once workers run, a clone that cannot be made raises
        CloneUnavailableError: the run goes on without that worker.
        """
        return self.prepare_slots([slot])[slot]

    def prepare_slots(self, slots: list[int]) -> dict[int, WorkerSettings]:
        """Prepare several slots at once, cloning concurrently where the vendor allows it."""
        connections.close_all()
        self._guards.close()
        mid_run, self._running = self._running, True
        try:
            return self._prepare_slots(slots)
        except Exception as exc:
            # Whatever the slots' clones hold now, they are not clean.
            self._flushed.update(slots)
            if not mid_run:
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CloneUnavailableError(
                f"Worker {', '.join(map(str, slots))} could not get a fresh clone "
                f"({type(exc).__name__}: {first})"
            ) from exc

    def _prepare_slots(self, slots: list[int]) -> dict[int, WorkerSettings]:
        for database in self._databases:  # one at a time: claims share the hold's session
            missing = [s for s in slots if not database.in_memory and s not in database.clones]
            if self.ready_clones:
                if missing:  # a replaced worker keeps its slot's name
                    names = ready.claim(database, len(missing))
                    database.clones.update(zip(missing, names, strict=True))
                continue
            for slot in missing:
                database.clones[slot] = holds.clone_name(
                    database, slot, self.run_token, keepdb=self.keepdb, say=self._say
                )
        jobs = [(database, slot) for slot in slots for database in self._databases]
        concurrent = len(jobs) > 1 and all(d.cloner.can_clone_concurrently for d, _ in jobs)
        if concurrent:
            with ThreadPoolExecutor(max_workers=min(len(jobs), 4)) as pool:
                seconds = list(pool.map(lambda job: self._prepare(*job), jobs))
        else:
            seconds = [self._prepare(database, slot) for database, slot in jobs]
        self.clone_seconds.extend(seconds)
        self._prepared.update(slots)
        self._flushed.difference_update(slots)
        connections.close_all()
        return {slot: self.worker_settings(slot) for slot in slots}

    def _prepare(self, database: RunDatabase, slot: int) -> float:
        started = time.perf_counter()
        if database.in_memory:
            # The worker copies the template into its own in-memory database with the backup
            # API (connect_worker): always fresh, nothing on disk to drop.
            return time.perf_counter() - started
        name = database.clones[slot]
        fresh = slot not in self._prepared
        if fresh and name in database.ready and ready.take(database, name, self._owner):
            logger.debug("Using the ready clone %s", name)
        else:
            if fresh and holds.is_kept(name) and holds.reusable(database, name):
                logger.debug("Reusing the kept clone %s", name)
            else:
                deadline = math.inf if self._deadline is None else self._deadline
                database.cloner.clone(database.template, name, deadline=deadline, say=self._say)
            holds.record_owner(database, name, self._owner)
        database.ready.discard(name)  # used once: a replaced worker gets a fresh clone
        # The pool forks right after: no connection opened in a thread may survive.
        connections.close_all()
        return time.perf_counter() - started

    def worker_settings(self, slot: int) -> WorkerSettings:
        """Return, per alias, the plain settings a worker in ``slot`` connects with."""
        result: WorkerSettings = {}
        for database in self._databases:
            load = None
            if database.in_memory:
                name = naming.sqlite_memory_name(database.owner, slot, self.run_token)
                load = database.cloner.settings_for(database.template)["NAME"]
            else:
                clone = database.clones.get(slot) or naming.clone_name(
                    database.template, slot, self.run_token
                )
                name = database.cloner.settings_for(clone)["NAME"]
            aliases = database.aliases + [
                m for m, o in self._mirrors.items() if o == database.owner
            ]
            for alias in aliases:
                connection = connections[alias]
                settings_dict = {**connection.settings_dict, "NAME": name}
                settings_dict["TEST"] = dict(settings_dict.get("TEST") or {})
                extra: dict[str, str | bool | None] = {"debug_sql": self.debug_sql}
                if alias == database.owner:
                    extra["load"] = load
                    serialized = getattr(connection, "_test_serialized_contents", None)
                    if serialized is not None:
                        extra["serialized"] = serialized
                settings_dict[EXTRA] = extra
                result[alias] = settings_dict
        return result

    def database_name(self, slot: int) -> str:
        """Return the name of slot's clone of the first database, for reports."""
        if not self._databases:
            return ""
        database = self._databases[0]
        name = database.clones.get(slot) or naming.clone_name(
            database.template, slot, self.run_token
        )
        return f"{name} (in memory)" if database.in_memory else name

    def mark_flushed(self, slot: int) -> None:
        """Note that a TransactionTestCase emptied the clones of ``slot``.

        With --keepdb only clean clones are kept: a later run's TestCase must find the rows the
        template has, so a flushed clone is dropped at teardown and made again next time.
        """
        self._flushed.add(slot)

    def is_flushed(self, slot: int) -> bool:
        """Return whether a TransactionTestCase emptied the clones of ``slot`` since they were made.

        The answer belongs to the slot's clones, not to a worker process: a worker that
        replaces another on the same clones (a recycled one) inherits it.
        """
        return slot in self._flushed

    def reuse_slot(self, slot: int) -> WorkerSettings:
        """Return the settings of a worker that takes over ``slot``'s clones as they are.

        Clones on disk keep whatever the previous worker left, flushed or not; an in-memory
        database is loaded from the template again by the new process, so a slot whose
        databases all live in memory is clean again.
        """
        if all(database.in_memory for database in self._databases):
            self._flushed.discard(slot)
        return self.worker_settings(slot)
