"""A third-party-looking database backend: SQLite underneath, but a vendor the app cannot clone."""

from __future__ import annotations

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper


class DatabaseWrapper(SQLiteDatabaseWrapper):
    vendor = "acme"
    display_name = "Acme DB"
