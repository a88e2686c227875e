"""Vendor questions answered by ``databases.cloning`` for code that never names a vendor.

No connection is opened: each answer comes from the settings alone (fast, no server needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db.utils import ConnectionHandler

from concurrent_test_app.checks import unsupported_engines
from concurrent_test_app.databases.cloning import (
    CLONERS,
    cloner_for,
    connecting_creates,
    connection_in_memory,
)

ENGINES = {
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}


def _connection(engine: str, name: str, **test: str) -> Any:
    settings = {"ENGINE": engine, "NAME": name, "TEST": dict(test)}
    return ConnectionHandler({"default": settings})["default"]


@pytest.mark.parametrize(
    ("name", "in_memory"),
    [(":memory:", True), ("file:one?mode=memory&cache=shared", True), ("real.sqlite3", False)],
)
def test_sqlite_connections_in_memory(name: str, in_memory: bool) -> None:
    assert connection_in_memory(_connection(ENGINES["sqlite"], name)) is in_memory


def test_connecting_creates_only_a_sqlite_file_that_is_missing(tmp_path: Path) -> None:
    missing, present = tmp_path / "missing.sqlite3", tmp_path / "present.sqlite3"
    present.touch()
    assert connecting_creates(_connection(ENGINES["sqlite"], str(missing)))
    assert not connecting_creates(_connection(ENGINES["sqlite"], str(present)))
    assert not connecting_creates(_connection(ENGINES["sqlite"], ":memory:"))


@pytest.mark.parametrize("vendor", ["postgresql", "mysql"])
def test_servers_are_never_in_memory_and_never_made_by_connecting(vendor: str) -> None:
    connection = _connection(ENGINES[vendor], ":memory:")
    assert not connection_in_memory(connection) and not connecting_creates(connection)
    assert not cloner_for(connection).is_in_memory()


def test_a_sqlite_cloner_knows_whether_django_would_test_in_memory(tmp_path: Path) -> None:
    real = str(tmp_path / "real.sqlite3")
    assert cloner_for(_connection(ENGINES["sqlite"], real)).is_in_memory()  # no TEST NAME
    on_disk = _connection(ENGINES["sqlite"], real, NAME=str(tmp_path / "test.sqlite3"))
    assert not cloner_for(on_disk).is_in_memory()


def test_the_checks_support_exactly_the_vendors_with_a_cloner() -> None:
    assert sorted(CLONERS) == sorted(ENGINES)
    databases = {alias: {"ENGINE": engine} for alias, engine in ENGINES.items()}
    assert unsupported_engines(databases=databases) == []
    oracle = unsupported_engines(databases={"other": {"ENGINE": "django.db.backends.oracle"}})
    assert len(oracle) == 1 and "'other'" in oracle[0]
