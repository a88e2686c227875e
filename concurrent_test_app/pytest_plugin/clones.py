"""A worker's side: clone the templates its tests use, on demand, and drop them at the end.

The worker does what a runner's worker slot does, through the same
:class:`~concurrent_test_app.databases.slots.WorkerDatabases`: it holds the templates its
tests use (the controller made them ready, so this only checks them), clones each into a
database of its own named after its slot (``gwN`` is slot N+1) and the session's token, and
points its connections at the clones. A replacement worker (a new ``gwN``) gets a new slot,
so a crashed worker's clone is never reused; the controller drops it at the end.

pytest-django promises that no TestCase runs after a transactional test on the same
database; under xdist's scopes that no longer holds per worker, so, as the runner does, a
worker whose clones a transactional test flushed clones them afresh before its next TestCase.
"""

from __future__ import annotations

import logging
import sys

from concurrent_test_app.databases.attach import connect_worker
from concurrent_test_app.databases.slots import WorkerDatabases

logger = logging.getLogger(__name__)


def slot_of(worker_id: str | None) -> int:
    """Return the clone slot of an xdist worker id (``gw0`` is 1; no xdist is 1 too)."""
    if not worker_id or not worker_id.startswith("gw") or not worker_id[2:].isdigit():
        return 1
    return int(worker_id[2:]) + 1


def _say(message: str) -> None:
    # A worker's standard output is not the user's terminal; standard error reaches it.
    logger.info("%s", message)
    print(f"concurrent_test: {message}", file=sys.stderr)


class WorkerClones:
    """The clones of one worker process, made when its first database test sets up."""

    def __init__(self, *, slot: int, token: str, keepdb: bool, verbosity: int = 0) -> None:
        self.slot = slot
        self.token = token
        self.keepdb = keepdb
        self.verbosity = verbosity
        self.databases: WorkerDatabases | None = None
        self.names: dict[str, str] = {}  # alias -> the database NAME it now uses
        self.reclones = 0

    def setup(self, aliases: set[str], serialized: set[str]) -> None:
        """Clone the templates of ``aliases`` for this worker and point them at the clones."""
        if not aliases:
            return
        databases = WorkerDatabases(
            {alias: alias in serialized for alias in sorted(aliases)},
            log=_say if self.verbosity >= 2 else logger.info,
            verbosity=self.verbosity,
            keepdb=self.keepdb,
        )
        databases.run_token = self.token
        # Each xdist worker clones for itself under the session's token, and a replaced worker
        # must get a clone of its own: ready clones (made by a whole run at its end) are the
        # runner's, not the plugin's.
        databases.ready_clones = False
        self.databases = databases
        databases.setup()
        self._connect(databases.prepare_slot(self.slot))

    def _connect(self, settings: dict[str, dict[str, object]]) -> None:
        connect_worker(self.slot, settings, restore=False)
        self.names = {alias: str(given.get("NAME")) for alias, given in settings.items()}

    def clone_of(self) -> dict[str, tuple[str, str]]:
        """Return, per alias that owns a template, its template and the database it now uses."""
        if self.databases is None:
            return {}
        return {
            record.alias: (record.name, self.names.get(record.alias, ""))
            for record in self.databases.templates
        }

    def before(self, use: str) -> None:
        """Before a test that wants the template's rows, clone afresh if they were flushed."""
        from concurrent_test_app.pytest_plugin.items import CLEAN

        databases = self.databases
        if databases is not None and use == CLEAN and databases.is_flushed(self.slot):
            logger.info("Worker slot %s clones afresh: a transactional test flushed it", self.slot)
            self.reclones += 1
            self._connect(databases.prepare_slot(self.slot))

    def after(self, use: str) -> None:
        """After a transactional test (its clones now exist: the first test makes them),
        note that it flushed them."""
        from concurrent_test_app.pytest_plugin.items import FLUSHES

        if self.databases is not None and use == FLUSHES:
            self.databases.mark_flushed(self.slot)

    def teardown(self) -> None:
        """Drop the clones (with --reuse-db, keep the clean ones) and restore the names."""
        if self.databases is not None:
            self.databases.teardown()
            self.databases = None
