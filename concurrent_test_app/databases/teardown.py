"""How a run's clones end: dropped, kept for ``--keepdb``, or left ready for the next run.

:class:`Teardown` is the part of :class:`~.slots.WorkerDatabases` that ends a run. It starts
in :meth:`Teardown.begin_teardown`, which gives every alias its real database name back at
once and leaves the work on the clones to a thread (the server copies while the run writes
its history and reports), and ends in :meth:`Teardown.end_teardown`, which waits for that
work and then releases the run's holds on its templates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

from django.db import connections

from concurrent_test_app.databases import holds, ready
from concurrent_test_app.databases.holds import RunDatabase
from concurrent_test_app.databases.template import repoint
from concurrent_test_app.databases.types import Say

logger = logging.getLogger(__name__)


class Teardown:
    """Drop, keep or make ready a run's clones (WorkerDatabases holds the state)."""

    _databases: list[RunDatabase]
    _guards: ExitStack
    _holds: ExitStack
    _old_names: dict[str, str | None]
    _prepared: set[int]
    _flushed: set[int]
    # The teardown's work on the clones, between begin_teardown() and end_teardown().
    _clearing: Future[list[BaseException]] | None
    keepdb: bool
    ready_clones: bool
    verbosity: int
    log: Say

    def drop_slot(self, slot: int) -> None:
        """Drop the clones of worker ``slot``; with --keepdb keep its kept clones unless flushed
        (with their key counters set back to the template's where they can be)."""
        kept = False
        for database in self._databases:
            name = database.clones.get(slot)
            if name is None:
                continue
            if self.keepdb and slot not in self._flushed and holds.is_kept(name):
                if database.cloner.rollback_keeps_counters:
                    # The next --keepdb run's new rows get the template's ids, as in a fresh
                    # clone; where that cannot be done it is kept as Django's --keepdb keeps.
                    database.cloner.reset_to_template(name)
                holds.keep_clean(database, name)  # the next --keepdb run may reuse it
                kept = True
                continue
            del database.clones[slot]
            database.cloner.drop(name)
        if not kept:
            self._prepared.discard(slot)
            self._flushed.discard(slot)

    def teardown(self, *, completed: bool = False) -> None:
        """Drop every clone unless --keepdb, then give every alias its real database name back.

        A ``completed`` run first leaves ready clones for the next (see databases/ready.py).
        Templates always stay: the next run reuses them. The run's holds on them (and its
        claims on kept and ready clones) end last, once its clones are gone or marked kept.
        """
        self.begin_teardown(completed=completed)
        self.end_teardown()

    def begin_teardown(self, *, completed: bool = False) -> None:
        """Give every alias its real database name back, and start :meth:`teardown`'s work on
        the clones in a thread: the server copies while the run writes history and reports.

        :meth:`end_teardown` waits for that work and then releases the templates.
        """
        connections.close_all()
        self._guards.close()
        for alias, old_name in self._old_names.items():
            repoint(connections[alias], old_name)
        self._old_names.clear()
        # The thread uses only the cloners' own connections, never django.db.connections.
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="teardown")
        self._clearing = thread.submit(self._clear, completed)
        thread.shutdown(wait=False)  # takes no more work; the job runs on

    def end_teardown(self, *, quiet: bool = False) -> None:
        """Wait for the clones' teardown, then release the templates; raise its first error,
        unless ``quiet`` (the run failed already: a teardown error never hides the run's own)."""
        errors: list[BaseException] = []
        try:
            if self._clearing is not None:
                errors.extend(self._clearing.result())
        except Exception as exc:
            errors.append(exc)
        finally:
            self._clearing = None
            try:
                self._holds.close()
            except Exception as exc:  # the server may be gone already; so are the holds then
                logger.warning("Could not release the templates: %s", exc)
                errors.append(exc)
        if errors and not quiet:
            raise errors[0]

    def _clear(self, completed: bool) -> list[BaseException]:
        """Leave ready clones (after a ``completed`` run) and drop the others; return errors."""
        errors: list[BaseException] = []
        if completed and self.ready_clones:
            self._leave_ready()
        for slot in sorted({slot for d in self._databases for slot in d.clones}):
            try:
                self.drop_slot(slot)
            except Exception as exc:  # a teardown error must not hide the others
                logger.warning("Could not drop the clones of worker %s: %s", slot, exc)
                errors.append(exc)
        return errors

    def _leave_ready(self) -> None:
        """Make the run's clones ready for the next run; a failure only costs the next run."""
        for database in self._databases:
            each = _concurrently if database.cloner.can_clone_concurrently else ready.in_turn
            try:
                left = ready.leave_ready(database, self._flushed, each)
            except Exception as exc:  # the clones left are dropped as usual
                logger.warning("Could not leave ready clones of %s: %s", database.template, exc)
                self.log(f"Warning: no ready clones of {database.template} were left ({exc}).")
                continue
            if left.made and self.verbosity >= 2:
                self.log(
                    f"Left {len(left.made)} ready clone(s) of {database.template} "
                    f"({len(left.cloned_again)} cloned again)."
                )


def _concurrently(make: Callable[[str], None], names: list[str]) -> None:
    """Apply ``make`` to every name at once (each clone on a connection of its own)."""
    if len(names) < 2:
        ready.in_turn(make, names)
        return
    with ThreadPoolExecutor(max_workers=min(len(names), 4)) as pool:
        list(pool.map(make, names))
