"""One cloner class per database vendor, with the same methods in each; see :mod:`.base`.

:data:`CLONERS` is the one list of the vendors this app supports; the functions here answer
vendor questions about a connection for code outside ``cloning/``, which never names a vendor.
"""

from __future__ import annotations

import logging

from django.db.backends.base.base import BaseDatabaseWrapper

from concurrent_test_app.databases.cloning.base import DatabaseCloner
from concurrent_test_app.databases.cloning.mysql import MySQLCloner
from concurrent_test_app.databases.cloning.postgresql import PostgreSQLCloner
from concurrent_test_app.databases.cloning.sqlite import SQLiteCloner
from concurrent_test_app.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

CLONERS: dict[str, type[DatabaseCloner]] = {
    cloner.vendor: cloner for cloner in (PostgreSQLCloner, MySQLCloner, SQLiteCloner)
}


def cloner_for(connection: BaseDatabaseWrapper) -> DatabaseCloner:
    """Return the cloner of ``connection``'s vendor."""
    try:
        cloner_class = CLONERS[connection.vendor]
    except KeyError:
        raise ConfigurationError(
            f"DATABASES[{connection.alias!r}] uses the {connection.vendor!r} backend, which "
            f"concurrent_test_app cannot clone; use one of {', '.join(sorted(CLONERS))}."
        ) from None
    return cloner_class(connection)


def connection_in_memory(connection: BaseDatabaseWrapper) -> bool:
    """Return whether ``connection`` points at an in-memory database now.

    False for a vendor this app cannot clone (it has no in-memory databases to know of).
    """
    cloner_class = CLONERS.get(connection.vendor)
    return cloner_class is not None and cloner_class.connection_in_memory(connection)


def connecting_creates(connection: BaseDatabaseWrapper) -> bool:
    """Return whether connecting would create ``connection``'s database: a file not made yet."""
    cloner_class = CLONERS.get(connection.vendor)
    return cloner_class is not None and cloner_class.connecting_creates(connection)


__all__ = [
    "CLONERS",
    "DatabaseCloner",
    "MySQLCloner",
    "PostgreSQLCloner",
    "SQLiteCloner",
    "cloner_for",
    "connecting_creates",
    "connection_in_memory",
]
