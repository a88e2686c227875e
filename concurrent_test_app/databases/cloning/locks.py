"""The claims that runs and builds hold on templates, across processes and hosts.

Three kinds of claim, each a vendor mechanism behind one policy here:
:meth:`TemplateLocks.hold` (shared, for a run's whole life: the template is never replaced or
dropped under it), :meth:`TemplateLocks.replacing` (exclusive, for a build about to replace or
drop it: it waits for the holders, by name, and new holders wait for it) and
:meth:`TemplateLocks.lock` (exclusive, one build of a project's alias at a time).
:meth:`TemplateLocks.claimed` takes any lock only if it is free: a run claims the kept clones
it reuses that way, and a clone ends the stray sessions on its template only while nobody
claims them (:meth:`TemplateLocks.guard`).

Every lock lives in a lock session (:meth:`~.connections.ClonerConnections._lock_session`),
so it dies with its process: a killed run never leaves one behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning.connections import ClonerConnections
from concurrent_test_app.databases.types import LockSession, Say
from concurrent_test_app.exceptions import DatabaseSetupError, TemplateInUseError

logger = logging.getLogger(__name__)


class TemplateHold:
    """A run's shared claim on one template, and on the kept clones it takes (see
    :meth:`TemplateLocks.hold`). Everything it claims is released with it."""

    def __init__(self, locks: TemplateLocks, session: LockSession, template: str) -> None:
        self.locks = locks
        self.template = template
        self._session = session
        # Recorded in the run's clones, so a builder waiting for this hold can name the run.
        self.session_id: str = locks._session_id(session)

    def claim(self, name: str) -> bool:
        """Claim the clone ``name`` until the hold ends; return False if another run has it."""
        naming.assert_derived(name, kind=naming.CLONE)
        return self.locks._try_lock(self._session, name)


class TemplateLocks(ClonerConnections):
    """Lock, claim and hold the templates of one alias (policy here, mechanism in hooks)."""

    # How long to wait for another process's build of the same template.
    lock_timeout: ClassVar[float] = 1800.0
    lock_poll_interval: ClassVar[float] = 0.1
    # Waits shorter than this (another run reading the bookkeeping) go unsaid.
    say_after: ClassVar[float] = 1.0

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

        A clone that finds sessions on its template ends them as strays after a grace, unless
        some process claims them: a run's parent claims its own while it is connected to the
        template (checks, serialization), so another run's clone waits for it instead of
        ending it. Vendors whose clones no session blocks need no claim.
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
            while (handle := self._try_hold(session, template)) is None:
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
                self._wait_for_holders(session, template, started, timeout, say or logger.info)
                try:
                    yield
                finally:
                    self._release_exclusive(session, template)
            finally:
                self._unlock(session, intent)

    def _wait_for_holders(
        self, session: LockSession, template: str, started: float, timeout: float, say: Say
    ) -> None:
        """Take ``template`` exclusively once no run holds it, naming the holders meanwhile."""
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

    def holders(self, template: str) -> list[str]:
        """Return who holds ``template`` right now (see hold()), one description each."""
        naming.assert_derived(template, kind=naming.TEMPLATE)
        with self._lock_session(template) as session:
            sessions = self._hold_sessions(session, template)
        return self._describe_holders(template, sessions)

    def _describe_holders(self, template: str, sessions: list[tuple[str, str]]) -> list[str]:
        """Name each holding session's run, as the vendor describes it."""
        return [detail for _, detail in sessions]

    @staticmethod
    def _intent_key(template: str) -> str:
        return f"{template}.intent"

    @staticmethod
    def _attached_key(template: str) -> str:
        return f"{template}.attached"

    # -- hooks: the vendor mechanism ---------------------------------------------------------

    def _session_id(self, session: LockSession) -> str:
        return ""

    def _try_lock(self, session: LockSession, key: str) -> bool:
        raise NotImplementedError

    def _unlock(self, session: LockSession, key: str) -> None:
        raise NotImplementedError

    def _try_hold(self, session: LockSession, key: str) -> str | None:
        """Take a shared claim on ``key`` unless a builder intends to replace it; None if not.

        Return what :meth:`_release_hold` needs to release it (the vendor's lock name)."""
        raise NotImplementedError

    def _release_hold(self, session: LockSession, key: str, handle: str) -> None:
        raise NotImplementedError

    def _try_exclusive(self, session: LockSession, key: str) -> bool:
        """Take ``key`` exclusively if no hold is on it (the caller holds its intent lock)."""
        return self._try_lock(session, key)

    def _release_exclusive(self, session: LockSession, key: str) -> None:
        self._unlock(session, key)

    def _hold_sessions(self, session: LockSession, key: str) -> list[tuple[str, str]]:
        """Return (session id, description) of every session holding ``key``."""
        return []
