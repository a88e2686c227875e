"""Key counters: what a rolled-back ``TestCase`` leaves behind in a clone, and setting it back.

A transaction that rolls back undoes its rows but not the key counters it advanced (PostgreSQL
sequences, InnoDB auto-increment counters), so a clone that ``TestCase`` classes used gives
new rows other ids than a fresh clone does. A template records its counters in its bookkeeping
when it is built (:attr:`KeyCounters.counters_key`), and every clone copies that table. At the
end of a run, :meth:`KeyCounters.reset_to_template` sets a used clone's counters back to the
template's, in one connection: a few statements where a fresh clone copies every table.

It does so only when nothing but the counters can differ, and otherwise returns False (the
caller clones again): no other session is connected to the clone (a killed worker's may still
be rolling back), its schema is the template's (MySQL commits DDL at once, and a test may have
written a table by hand), every table rolls back (MySQL: InnoDB only, no ``SEQUENCE``), and the
counters read back equal the template's. A flushed clone is never set back: its rows are gone.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, ClassVar

from django.db.backends.utils import CursorWrapper

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning.connections import ClonerConnections
from concurrent_test_app.databases.fingerprint import schema_fingerprint
from concurrent_test_app.databases.types import Row

logger = logging.getLogger(__name__)

# A counter's state, as JSON keeps it: an int (MySQL) or [last value, is called] (PostgreSQL).
Counters = dict[str, Any]


class KeyCounters(ClonerConnections):
    """Read a database's key counters, and set a clone's back to its template's."""

    # Whether a transaction that rolls back still advances the key counters (PostgreSQL
    # sequences, InnoDB auto-increment): then a clone a TestCase used is no longer the template's
    # state until its counters are set back (a test that expects the template's next id fails).
    rollback_keeps_counters: ClassVar[bool] = True
    # The bookkeeping row that holds the template's counters (JSON; empty: cannot be set back).
    counters_key: ClassVar[str] = "counters"
    # How long a clone's last sessions (the run's own workers, just exited) may take to leave.
    idle_wait: ClassVar[float] = 0.25
    meta_table: ClassVar[str]

    def counters(self, name: str) -> str:
        """Return the key counters of ``name`` as its bookkeeping keeps them ("" if it holds
        state that only a fresh clone restores)."""
        naming.assert_derived(name)
        if not self.rollback_keeps_counters:
            return ""
        with self._cursor(name) as cursor:
            found = self._read_counters(cursor)
        return "" if found is None else json.dumps(found, sort_keys=True)

    def reset_to_template(self, name: str) -> bool:
        """Set the key counters of the clone ``name`` back to its template's; return whether
        it is now as a fresh clone would be (False: the caller must clone it again)."""
        naming.assert_derived(name)
        if not self._idle(name):
            return False
        try:
            return self._reset(name)
        except Exception as exc:  # a damaged clone, say: a fresh clone replaces it
            logger.debug("Cannot set the key counters of %s back: %s", name, exc)
            return False

    def _reset(self, name: str) -> bool:
        with self._cursor(name) as cursor:
            cursor.execute(
                f"SELECT name, value FROM {self._quote(self.meta_table)} WHERE name IN (%s, %s)",
                [self.counters_key, "schema"],
            )
            meta = {str(key): str(value) for key, value in cursor.fetchall()}
            if not meta.get(self.counters_key):  # a template built before counters were kept
                return False
            if schema_fingerprint(self._schema_rows(cursor)) != meta.get("schema"):
                logger.debug("The schema of %s is not its template's", name)
                return False
            template: Counters = json.loads(meta[self.counters_key])
            now = self._read_counters(cursor)
            if now is None or set(now) != set(template):
                return False
            changed = {key: value for key, value in template.items() if now[key] != value}
            if not changed:
                return True
            self._restore_counters(cursor, changed)
            logger.debug("Set %d key counter(s) of %s back", len(changed), name)
            return self._read_counters(cursor) == template

    def _idle(self, name: str) -> bool:
        """Return whether no other session is connected to ``name``, waiting a moment."""
        deadline = time.monotonic() + self.idle_wait
        while self._sessions(name):
            if time.monotonic() >= deadline:
                logger.debug("%s still has sessions: it is cloned again", name)
                return False
            time.sleep(0.01)
        return True

    # -- hooks: the vendor mechanism ---------------------------------------------------------

    def _read_counters(self, cursor: CursorWrapper) -> Counters | None:
        """Return the database's key counters (None: it holds state a rollback keeps)."""
        return None

    def _restore_counters(self, cursor: CursorWrapper, counters: Counters) -> None:
        """Set each of ``counters`` to its value."""
        raise NotImplementedError

    def _schema_rows(self, cursor: CursorWrapper) -> list[Row]:
        raise NotImplementedError

    def _sessions(self, name: str) -> list[int]:
        """Return the ids of the other sessions connected to ``name``."""
        return []
