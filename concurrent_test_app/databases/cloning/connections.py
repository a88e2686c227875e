"""The connections a cloner opens: its own, to the server or to one derived database.

A cloner never touches ``django.db.connections``: every connection here is a new
DatabaseWrapper of the alias's backend, so a cloner is safe to use from several threads at
once. :meth:`ClonerConnections.session` shares one server connection among the calls made
inside it (in one thread); a lock session (:meth:`ClonerConnections._lock_session`) is a
server connection of its own, since a session-level lock lives exactly as long as it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from django.db.backends.base.base import NO_DB_ALIAS, BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.types import LockSession, SettingsDict

logger = logging.getLogger(__name__)


class ClonerConnections:
    """Open connections of its own for one alias: to the server, or to one derived database."""

    # Whether the databases live on a server (False: files on this machine).
    has_server: ClassVar[bool] = True
    # The NAME that connects to the server rather than to one database (Django's own choice
    # for its server connections); the alias's connection points there while migration
    # modules load for the fingerprint, since the real database may not exist.
    server_database_name: ClassVar[str | None] = None

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.alias: str = connection.alias
        # A snapshot: the live settings_dict's NAME moves while templates are built.
        self.settings_dict: SettingsDict = dict(connection.settings_dict)
        # The server connection that session() shares, one per thread.
        self._local = threading.local()

    def settings_for(self, name: str) -> SettingsDict:
        """Return a settings dict that connects to the derived database ``name``."""
        naming.assert_derived(name)
        return {**self.settings_dict, "NAME": self._physical_name(name)}

    def _physical_name(self, name: str) -> str:
        return name

    def _quote(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    def _wrapper(
        self, name: str | None, options: SettingsDict | None = None
    ) -> BaseDatabaseWrapper:
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
    def _cursor(self, name: str | None) -> Iterator[CursorWrapper]:
        """Yield a cursor on ``name`` (None: the server, shared inside :meth:`session`)."""
        shared: CursorWrapper | None = (
            getattr(self._local, "cursor", None) if name is None else None
        )
        if shared is not None:
            yield shared
            return
        with self._own_cursor(name) as cursor:
            yield cursor

    @contextmanager
    def _own_cursor(
        self, name: str | None, options: SettingsDict | None = None
    ) -> Iterator[CursorWrapper]:
        """Yield a cursor on a connection of its own to ``name`` (None: the server)."""
        wrapper = self._wrapper(name, options)
        try:
            with wrapper.cursor() as cursor:
                yield cursor
        finally:
            wrapper.close()

    # -- hooks: the vendor mechanism ---------------------------------------------------------

    @contextmanager
    def _lock_session(self, key: str, label: str = "") -> Iterator[LockSession]:
        """Yield the session that the locks on ``key`` live in (see :mod:`.locks`)."""
        # A server session of its own: a session-level lock lives exactly as long as it.
        with self._own_cursor(None, self._label_options(label)) as cursor:
            self._keep_alive(cursor)
            yield cursor

    def _label_options(self, label: str) -> SettingsDict:
        """Return connection OPTIONS that show ``label`` to the server's other sessions."""
        return {}

    def _keep_alive(self, session: LockSession) -> None:
        """Keep an idle lock session open as long as its process lives (a run may be long)."""
