"""Key counters set back (databases/cloning/counters.py), against the real servers.

A rolled-back transaction advances PostgreSQL sequences and InnoDB auto-increment counters. A
used clone is made the template's again by setting them back, and only when nothing else can
differ: each refusal below is a case where only a fresh clone is the template again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from concurrent_test_app.databases import naming
from tests.test_cloning import FP, Setup, made_setup

servers = pytest.mark.parametrize("vendor", ["postgresql", "mysql"], indirect=True)

AUTO_ID = {
    "postgresql": "id SERIAL PRIMARY KEY",
    "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY",
}


@pytest.fixture
def setup(vendor: str, tmp_path: Path, django_db_blocker: Any) -> Iterator[Setup]:
    with made_setup(vendor, tmp_path, django_db_blocker) as made:
        yield made


def publish(setup: Setup, *statements: str) -> str:
    """Build a template the way template.py does: its schema and counters in its bookkeeping."""
    cloner = setup.cloner
    cloner.create(setup.building)
    setup.sql(setup.building, *statements)
    meta = {
        "fingerprint": FP,
        "complete": "0",
        "schema": cloner.schema_fingerprint(setup.building),
        cloner.counters_key: cloner.counters(setup.building),
    }
    cloner.write_meta(setup.building, meta)
    cloner.publish(setup.building, setup.template)
    cloner.mark_complete(setup.template)
    return setup.template


def book_table(setup: Setup, *rows: str) -> tuple[str, ...]:
    statements = [f"CREATE TABLE book ({AUTO_ID[setup.vendor]}, title VARCHAR(20))"]
    statements += [f"INSERT INTO book (title) VALUES ('{title}')" for title in rows]
    return tuple(statements)


def used_clone(setup: Setup, template: str) -> str:
    """Clone ``template`` and advance its counters the way a TestCase does: rolled back."""
    clone = naming.clone_name(template, 1, "abc123")
    setup.cloner.clone(template, clone)
    wrapper = setup.cloner._wrapper(clone)
    try:
        wrapper.set_autocommit(False)
        with wrapper.cursor() as cursor:
            cursor.execute("INSERT INTO book (title) VALUES ('rolled back')")
            cursor.execute("INSERT INTO book (title) VALUES ('rolled back too')")
        wrapper.rollback()
    finally:
        wrapper.close()
    return clone


def next_id(setup: Setup, name: str) -> int:
    setup.sql(name, "INSERT INTO book (title) VALUES ('new')")
    [(found,)] = setup.sql(name, "SELECT MAX(id) FROM book")
    return int(found)


@servers
def test_a_rolled_back_transaction_leaves_its_ids_used(setup: Setup) -> None:
    # What the tests below undo: without it the next row skips the rolled-back ids.
    template = publish(setup, *book_table(setup, "one", "two"))
    clone = used_clone(setup, template)

    assert next_id(setup, clone) == 5


@servers
def test_a_used_clone_gives_new_rows_the_templates_next_id_once_set_back(setup: Setup) -> None:
    template = publish(setup, *book_table(setup, "one", "two"))
    clone = used_clone(setup, template)

    assert setup.cloner.reset_to_template(clone)

    assert next_id(setup, clone) == 3  # as in a fresh clone
    titles = setup.sql(clone, "SELECT title FROM book ORDER BY id")
    assert titles == [("one",), ("two",), ("new",)]


@servers
def test_a_counter_the_template_never_used_is_set_back_to_its_start(setup: Setup) -> None:
    template = publish(setup, *book_table(setup))
    clone = used_clone(setup, template)

    assert setup.cloner.reset_to_template(clone)

    assert next_id(setup, clone) == 1


@servers
def test_a_clone_whose_schema_changed_is_not_set_back(setup: Setup) -> None:
    template = publish(setup, *book_table(setup, "one"))
    clone = used_clone(setup, template)
    setup.sql(clone, "CREATE TABLE left_behind (id INTEGER)")  # MySQL commits DDL at once

    assert not setup.cloner.reset_to_template(clone)


@servers
def test_a_clone_with_another_session_is_not_set_back(setup: Setup) -> None:
    template = publish(setup, *book_table(setup, "one"))
    clone = used_clone(setup, template)
    other = setup.cloner._wrapper(clone)
    try:
        other.ensure_connection()  # a killed worker's session may still be rolling back
        assert not setup.cloner.reset_to_template(clone)
    finally:
        other.close()
    assert setup.cloner.reset_to_template(clone)


@servers
def test_a_template_built_without_counters_is_never_set_back(setup: Setup) -> None:
    template = publish(setup, *book_table(setup, "one"))
    setup.cloner.update_meta(template, {setup.cloner.counters_key: ""})
    clone = used_clone(setup, template)

    assert not setup.cloner.reset_to_template(clone)


@pytest.mark.parametrize("vendor", ["mysql"], indirect=True)
def test_a_mysql_table_that_does_not_roll_back_needs_a_fresh_clone(setup: Setup) -> None:
    template = publish(
        setup,
        *book_table(setup, "one"),
        "CREATE TABLE notes (id INTEGER AUTO_INCREMENT PRIMARY KEY) ENGINE=MyISAM",
    )
    assert setup.cloner.counters(template) == ""  # a rollback leaves MyISAM's rows in place
    clone = used_clone(setup, template)

    assert not setup.cloner.reset_to_template(clone)


@servers
def test_a_clone_without_its_bookkeeping_is_not_set_back(setup: Setup) -> None:
    template = publish(setup, *book_table(setup, "one"))
    clone = used_clone(setup, template)
    setup.sql(clone, f"DROP TABLE {setup.cloner.meta_table}")  # damaged: no exception, False

    assert not setup.cloner.reset_to_template(clone)
