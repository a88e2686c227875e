"""One cloner class per database vendor, with the same methods in each; see :mod:`.base`."""

from __future__ import annotations

import logging
from typing import Any

from concurrent_test_app.databases.cloning.base import DatabaseCloner
from concurrent_test_app.databases.cloning.mysql import MySQLCloner
from concurrent_test_app.databases.cloning.postgresql import PostgreSQLCloner
from concurrent_test_app.databases.cloning.sqlite import SQLiteCloner
from concurrent_test_app.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

CLONERS: dict[str, type[DatabaseCloner]] = {
    cloner.vendor: cloner for cloner in (PostgreSQLCloner, MySQLCloner, SQLiteCloner)
}


def cloner_for(connection: Any) -> DatabaseCloner:
    """Return the cloner of ``connection``'s vendor."""
    try:
        cloner_class = CLONERS[connection.vendor]
    except KeyError:
        raise ConfigurationError(
            f"DATABASES[{connection.alias!r}] uses the {connection.vendor!r} backend, which "
            f"concurrent_test_app cannot clone; use one of {', '.join(sorted(CLONERS))}."
        ) from None
    return cloner_class(connection)


__all__ = [
    "CLONERS",
    "DatabaseCloner",
    "MySQLCloner",
    "PostgreSQLCloner",
    "SQLiteCloner",
    "cloner_for",
]
