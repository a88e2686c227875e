"""Build or reuse the template database of one alias, named after its fingerprint.

A template is *current* when a database of its derived name exists and its bookkeeping says
the build completed with the same fingerprint. Otherwise it is built under a lock shared by
every process building templates of the same project and alias:

1. under the lock, look again: another process may have just built it;
2. drop a half-built leftover (a build killed half way) and any incomplete template;
3. create the database under a temporary name, or, when the only change since an existing
   template of this project is migrations added on top (every file it was built from is
   unchanged), clone that template instead: only the new migrations will run;
4. migrate (exactly as Django's ``create_test_db`` does: ``run_syncdb``, ``TEST["MIGRATE"]``,
   then ``createcachetable``), check that every table migrate should have created is there
   (:mod:`.schema`), store the bookkeeping, publish under the template's name and mark it
   complete last.

Dropping what is nobody's any more (old templates, dead runs' clones) is :mod:`.sweep`.

The bookkeeping is a table in the template itself (see :mod:`.cloning.base`)
holding ``fingerprint``, ``schema`` (the schema fingerprint taken after the build),
``environment``, ``migrations`` (JSON of the file hashes), ``built_at``, ``mode``, ``applied``
and ``complete``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.core.management import call_command
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import get_unique_databases_and_mirrors, override_settings

from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases import fingerprint as fingerprints
from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning import DatabaseCloner, cloner_for
from concurrent_test_app.databases.schema import check_tables
from concurrent_test_app.databases.types import Say
from concurrent_test_app.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

CURRENT = "current"
MISSING = "missing"
INCOMPLETE = "incomplete"
ALTERED = "altered"


@dataclass
class TemplateResult:
    """What :meth:`TemplateBuilder.ensure` did for one alias."""

    alias: str
    name: str
    fingerprint: str
    reused: bool
    seconds: float
    mode: str  # "reused", "built", or "incremental"
    applied: int = 0  # migrations applied by this build
    base: str | None = None  # the template an incremental build started from
    schema: str = ""  # the schema fingerprint stored with the template
    reason: str = ""  # why it was built: the status it had
    built_at: str = ""  # when the template was built: tells one build from another


@dataclass
class TemplateStatus:
    """Whether an alias's template is current, and if not, why."""

    alias: str
    name: str
    fingerprint: str
    state: str
    reason: str
    schema: str = ""
    built_at: str = ""

    @property
    def current(self) -> bool:
        return self.state == CURRENT


class TemplateBuilder:
    """Build, reuse, check and prune the templates of one alias."""

    def __init__(
        self,
        alias: str,
        *,
        log: Say,
        verbosity: int = 1,
    ) -> None:
        self.alias = alias
        self.connection = connections[alias]
        self.verbosity = verbosity
        # Where set-up tells the user what it did or waits for (it honours --verbosity).
        self.log = log
        self.cloner: DatabaseCloner = cloner_for(self.connection)
        self.prefix = naming.name_prefix(self.cloner.test_database_name(), alias)
        self._fingerprint: fingerprints.Fingerprint | None = None

    # -- names ---------------------------------------------------------------------------

    @property
    def fingerprint(self) -> fingerprints.Fingerprint:
        if self._fingerprint is None:
            server_version = self.cloner.server_version()
            # Loading the migration modules runs their top-level code, which may query the
            # connection (a version or feature check). Django's runner loads them once the
            # alias points at its new test database; the real database may not exist at all
            # (CI servers often hold only test databases), so point it at the server instead.
            with self._pointed_at_name(self.cloner.server_database_name):
                self._fingerprint = fingerprints.compute(self.connection, server_version)
        return self._fingerprint

    @property
    def name(self) -> str:
        """Return the name of the template for the current fingerprint."""
        return naming.template_name(self.prefix, self.fingerprint.digest)

    @property
    def building(self) -> str:
        return naming.building_name(self.prefix, self.fingerprint.digest)

    # -- status --------------------------------------------------------------------------

    def status(self, *, verify_schema: bool = True) -> TemplateStatus:
        """Return whether the template is current; with ``verify_schema``, compare schemas too."""
        fingerprint = self.fingerprint
        name = self.name

        meta: dict[str, str] = {}

        def result(state: str, reason: str) -> TemplateStatus:
            schema, built_at = meta.get("schema", ""), meta.get("built_at", "")
            return TemplateStatus(
                self.alias, name, fingerprint.short, state, reason, schema, built_at
            )

        if not self.cloner.exists(name):
            others = [
                n
                for n in self.cloner.list_names(self.prefix)
                if naming.assert_derived(n).kind == naming.TEMPLATE
            ]
            if others:
                return result(
                    MISSING,
                    f"stale: no template for fingerprint {fingerprint.short} "
                    f"(migrations or settings changed since {others[-1]} was built)",
                )
            return result(MISSING, "missing: no template has been built yet")
        meta.update(self.cloner.read_meta(name) or {})
        if meta.get("complete") != "1" or meta.get("fingerprint") != fingerprint.digest:
            return result(INCOMPLETE, "incomplete: its build did not finish")
        if verify_schema:
            schema = self.cloner.schema_fingerprint(name)
            if schema != meta.get("schema"):
                return result(ALTERED, "altered: its schema changed after it was built")
        return result(CURRENT, "current")

    # -- build ---------------------------------------------------------------------------

    def ensure(self, *, force: bool = False) -> TemplateResult:
        """Return the current template, building it first when it is missing or stale."""
        started = time.perf_counter()
        fingerprint = self.fingerprint
        name = self.name
        status = None if force else self.status(verify_schema=False)
        if status is None or not status.current:
            with self.cloner.lock(self.prefix):
                # Another process may have built it while this one waited for the lock.
                status = None if force else self.status(verify_schema=False)
                if status is None or not status.current:
                    reason = (
                        status.reason if status is not None else "forced: a rebuild was asked for"
                    )
                    logger.info("Building the template of %s: %s", self.alias, reason)
                    result = self._build(force=force)
                    result.seconds = time.perf_counter() - started
                    result.reason = reason
                    return result
        seconds = time.perf_counter() - started
        return TemplateResult(
            self.alias,
            name,
            fingerprint.short,
            True,
            seconds,
            "reused",
            schema=status.schema,
            built_at=status.built_at,
        )

    def _build(self, *, force: bool) -> TemplateResult:
        fingerprint = self.fingerprint
        name, building = self.name, self.building
        if self.cloner.drop(building):
            self.log(f"Dropped the half-built template {building} left by an earlier build.")
        base = None if force else self._incremental_base()
        try:
            if base is not None:
                self.cloner.clone(base, building)
                before = self.cloner.applied_migrations(building)
                mode = "incremental"
            else:
                self.cloner.create(building)
                before = 0
                mode = "built"
            self._migrate(building)
            with self._pointed_at(building) as connection:
                check_tables(connection, self.alias)
            applied = self.cloner.applied_migrations(building) - before
            meta = {
                "fingerprint": fingerprint.digest,
                "environment": fingerprint.environment,
                "migrations": json.dumps(fingerprint.migrations, sort_keys=True),
                "schema": self.cloner.schema_fingerprint(building),
                self.cloner.counters_key: self.cloner.counters(building),
                "built_at": f"{time.time():.6f}",
                "mode": mode,
                "applied": str(applied),
                "base": base or "",
                "complete": "0",
            }
            self.cloner.write_meta(building, meta)
            # Runs that hold the template it replaces go on cloning that one until they end;
            # from now on new runs wait for this one instead.
            with self.cloner.replacing(name, timeout=app_settings.template_wait, say=self.log):
                if self.cloner.exists(name):
                    self.cloner.drop(name)
                    logger.info("Dropped the incomplete or replaced template %s", name)
                self.cloner.publish(building, name)
                # Marked complete only once it carries its final name: a crash before this line
                # leaves a template that the next build drops and rebuilds.
                self.cloner.mark_complete(name)
        except BaseException:
            # Nothing worth keeping: the error says what failed, and a retry starts afresh.
            # BaseException: Ctrl-C and SIGTERM (see processes.sigterm_raises) end a build too.
            self.cloner.drop(building)
            raise
        logger.info("Built template %s (%s, %d migrations applied)", name, mode, applied)
        return TemplateResult(
            self.alias,
            name,
            fingerprint.short,
            False,
            0.0,
            mode,
            applied,
            base,
            meta["schema"],
            built_at=meta["built_at"],
        )

    def _incremental_base(self) -> str | None:
        """Return a complete template whose migrations the current ones only add to."""
        fingerprint = self.fingerprint
        best: tuple[int, str] | None = None
        for candidate in self.cloner.list_names(self.prefix):
            if naming.assert_derived(candidate).kind != naming.TEMPLATE or candidate == self.name:
                continue
            meta = self.cloner.read_meta(candidate)
            if not meta or meta.get("complete") != "1":
                continue
            if meta.get("environment") != fingerprint.environment:
                continue
            try:
                older = json.loads(meta.get("migrations", ""))
            except ValueError:
                continue
            if not isinstance(older, dict) or not fingerprint.extends(older):
                continue
            if self.cloner.schema_fingerprint(candidate) != meta.get("schema"):
                continue  # altered after its build: not a trustworthy starting point
            if best is None or len(older) > best[0]:
                best = (len(older), candidate)
        return best[1] if best else None

    def _pointed_at(self, name: str) -> AbstractContextManager[BaseDatabaseWrapper]:
        """Point this alias's connection at the derived database ``name`` for a while."""
        return self._pointed_at_name(self.cloner.settings_for(name)["NAME"])

    @contextmanager
    def _pointed_at_name(self, physical_name: str | None) -> Iterator[BaseDatabaseWrapper]:
        """Point this alias's connection at the database NAME ``physical_name`` for a while."""
        connection = self.connection
        original = connection.settings_dict["NAME"]
        repoint(connection, physical_name)
        try:
            yield connection
        finally:
            repoint(connection, original)

    def _migrate(self, name: str) -> None:
        """Migrate ``name`` as Django's create_test_db migrates a new test database."""
        verbosity = max(self.verbosity - 1, 0)
        with self._pointed_at(name) as connection:
            if connection.settings_dict["TEST"].get("MIGRATE", True) is False:
                # As Django does: with migrations off, every app's schema comes from its models.
                modules = {app.label: None for app in apps.get_app_configs()}
                with override_settings(MIGRATION_MODULES=modules):
                    self._call_migrate(verbosity)
            else:
                self._call_migrate(verbosity)
            call_command("createcachetable", database=self.alias, verbosity=verbosity)

    def _call_migrate(self, verbosity: int) -> None:
        call_command(
            "migrate",
            verbosity=verbosity,
            interactive=False,
            database=self.alias,
            run_syncdb=True,
        )


def repoint(connection: BaseDatabaseWrapper, name: str | None) -> None:
    """Point ``connection`` at the database NAME ``name``, closing whatever it had open.

    Django's SQLite backend ignores ``close()`` while its NAME is an in-memory database and
    would go on talking to that one; the base class's close always closes.
    """
    BaseDatabaseWrapper.close(connection)
    connection.settings_dict["NAME"] = name


def template_aliases(only: str | None = None) -> list[str]:
    """Return the aliases that own a test database (mirrors and shared databases left out)."""
    if only is not None:
        if only not in connections:
            raise ConfigurationError(
                f"--database {only!r} is not in DATABASES; use one of "
                f"{', '.join(sorted(connections))}."
            )
        aliases = {only}
    else:
        aliases = set(connections)
    test_databases, _mirrored = get_unique_databases_and_mirrors(aliases)
    return [group[0] for _name, group in test_databases.values()]
