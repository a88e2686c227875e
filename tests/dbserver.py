"""Direct connections to the test database servers, for set-up checks and clean-up only.

Every test reaches PostgreSQL and MariaDB through here, from one source: the server URLs of
:data:`tests.conftest.SERVERS`, read with django-environ as a project's ``DATABASE_URL`` is.
The app itself never uses this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import environ

from tests.conftest import SERVERS


def settings(vendor: str, name: str = "") -> dict[str, Any]:
    """Return the Django settings dict of database ``name`` on ``vendor``'s server."""
    url = str(SERVERS[vendor]["url"]).format(name=name)
    return dict(environ.Env.db_url_config(url))


@contextmanager
def connect(vendor: str, name: str | None = None) -> Iterator[Any]:
    """Yield an autocommit DB-API connection to ``name`` (None: the server itself)."""
    config = settings(vendor, name or "")
    if vendor == "postgresql":
        import psycopg2

        connection = psycopg2.connect(
            host=config["HOST"],
            port=config["PORT"],
            user=config["USER"],
            password=config.get("PASSWORD") or None,
            dbname=name or "postgres",
        )
        connection.autocommit = True
    else:
        import MySQLdb

        extra = {"database": name} if name else {}
        connection = MySQLdb.connect(
            host=config["HOST"],
            port=int(config["PORT"]),
            user=config["USER"],
            password=config.get("PASSWORD") or "",
            **extra,
        )
        connection.autocommit(True)
    try:
        yield connection
    finally:
        connection.close()


def quote(vendor: str, name: str) -> str:
    """Return ``name`` quoted as an identifier of ``vendor``."""
    if vendor == "postgresql":
        return '"' + name.replace('"', '""') + '"'
    return "`" + name.replace("`", "``") + "`"


def databases(vendor: str, containing: str = "", *, prefix: str = "") -> list[str]:
    """Return the server's databases whose names contain ``containing`` and start ``prefix``."""
    with connect(vendor) as connection:
        cursor = connection.cursor()
        if vendor == "postgresql":
            cursor.execute("SELECT datname FROM pg_database")
        else:
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        names = [str(row[0]) for row in cursor.fetchall()]
    return sorted(n for n in names if containing in n and n.startswith(prefix))


def create_database(vendor: str, name: str) -> None:
    """Create the database ``name`` (utf8mb4 on MariaDB, as Django's tests want)."""
    suffix = "" if vendor == "postgresql" else " CHARACTER SET utf8mb4"
    execute(vendor, None, f"CREATE DATABASE {quote(vendor, name)}{suffix}")


def drop_database(vendor: str, name: str) -> None:
    """Drop ``name`` if it exists, ending its sessions (a template flag cleared first)."""
    quoted = quote(vendor, name)
    if vendor == "postgresql":
        with connect(vendor) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is not None:
                cursor.execute(f"ALTER DATABASE {quoted} IS_TEMPLATE false")
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        return
    execute(vendor, None, f"DROP DATABASE IF EXISTS {quoted}")


def drop_databases(vendor: str, names: list[str]) -> None:
    """Drop every database of ``names``."""
    for name in names:
        drop_database(vendor, name)


def execute(vendor: str, name: str | None, sql: str) -> None:
    """Run ``sql`` in the database ``name`` (None: on the server)."""
    with connect(vendor, name) as connection:
        connection.cursor().execute(sql)
