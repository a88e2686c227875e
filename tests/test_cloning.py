"""The vendor cloners against the real servers and SQLite: what a clone copies, the safety
checks, the locks, sessions on a template, and WorkerDatabases' slots in a real project.

Every database made here starts with ``test_tplc_<random>`` and is dropped by the test.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db.utils import ConnectionHandler

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning import DatabaseCloner, cloner_for
from concurrent_test_app.exceptions import (
    DatabaseSetupError,
    TemplateInUseError,
    UnsafeDatabaseNameError,
)

FP = "c0ffee" * 10 + "abcd"
TEMPLATE_PROJECT = Path(__file__).resolve().parent / "fixture_suites" / "template_project"

SERVER_SETTINGS = {
    "postgresql": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": "postgres",
    },
    "mysql": {
        "ENGINE": "django.db.backends.mysql",
        "HOST": "127.0.0.1",
        "PORT": 3306,
        "USER": "root",
    },
}


class Setup:
    """A cloner on a unique prefix, and helpers to run SQL in its databases."""

    def __init__(self, vendor: str, tmp_path: Path) -> None:
        real = f"tplc_{uuid.uuid4().hex[:10]}"
        if vendor == "sqlite":
            settings_dict: dict[str, Any] = {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(tmp_path / f"{real}.sqlite3"),
            }
        else:
            settings_dict = {**SERVER_SETTINGS[vendor], "NAME": real}
        self.handler = ConnectionHandler({"default": settings_dict})
        self.connection = self.handler["default"]
        self.vendor = vendor
        self.cloner: DatabaseCloner = cloner_for(self.connection)
        self.prefix = naming.name_prefix(self.cloner.test_database_name(), "default", "cloning")
        self.template = naming.template_name(self.prefix, FP)
        self.building = naming.building_name(self.prefix, FP)

    def sql(self, name: str, *statements: str) -> list[tuple[Any, ...]]:
        """Run ``statements`` in the derived database ``name``; return the last one's rows."""
        wrapper = self.cloner._wrapper(name)
        rows: list[tuple[Any, ...]] = []
        try:
            with wrapper.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    rows = list(cursor.fetchall()) if cursor.description else []
        finally:
            wrapper.close()
        return rows

    def publish(self, *statements: str) -> str:
        """Build a template from ``statements`` the way template.py does, and publish it."""
        self.cloner.create(self.building)
        if statements:
            self.sql(self.building, *statements)
        self.cloner.write_meta(self.building, {"fingerprint": FP, "complete": "0"})
        self.cloner.publish(self.building, self.template)
        self.cloner.mark_complete(self.template)
        return self.template

    def cleanup(self) -> None:
        for name in self.cloner.list_names(self.prefix):
            self.cloner.drop(name)
        self.handler.close_all()


@contextmanager
def made_setup(vendor: str, tmp_path: Path, django_db_blocker: Any) -> Iterator[Setup]:
    """Yield a Setup, dropping its databases afterwards."""
    # These connections are the cloner's own, to its own databases, not the suite's.
    with django_db_blocker.unblock():
        made = Setup(vendor, tmp_path)
        try:
            yield made
        finally:
            made.cleanup()


@pytest.fixture
def setup(vendor: str, tmp_path: Path, django_db_blocker: Any) -> Iterator[Setup]:
    with made_setup(vendor, tmp_path, django_db_blocker) as made:
        yield made


PARENT_CHILD = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
    "REFERENCES parent (id))",
    "INSERT INTO parent (id, name) VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO child (id, parent_id) VALUES (10, 1), (11, 2), (12, 2)",
    "CREATE VIEW child_count AS SELECT parent_id, COUNT(*) AS n FROM child GROUP BY parent_id",
)


def test_a_clone_copies_schema_rows_and_views(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    clone = naming.clone_name(template, 1, "abc123")
    seconds = setup.cloner.clone(template, clone)
    assert seconds > 0
    assert setup.sql(clone, "SELECT id, name FROM parent ORDER BY id") == [(1, "one"), (2, "two")]
    counts = setup.sql(clone, "SELECT parent_id, n FROM child_count ORDER BY parent_id")
    assert [tuple(int(v) for v in row) for row in counts] == [(1, 1), (2, 2)]
    assert setup.cloner.schema_fingerprint(clone) == setup.cloner.schema_fingerprint(template)
    assert (setup.cloner.read_meta(clone) or {}).get("fingerprint") == FP
    # The clone is a copy, not the same database.
    setup.sql(clone, "DELETE FROM child", "DELETE FROM parent")
    assert len(setup.sql(template, "SELECT id FROM parent")) == 2


def test_cloning_again_gives_a_fresh_copy(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    clone = naming.clone_name(template, 2, "abc123")
    setup.cloner.clone(template, clone)
    setup.sql(clone, "INSERT INTO parent (id, name) VALUES (3, 'three')")
    setup.cloner.clone(template, clone)
    assert len(setup.sql(clone, "SELECT id FROM parent")) == 2


def test_the_schema_fingerprint_sees_a_new_column(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    before = setup.cloner.schema_fingerprint(template)
    setup.sql(template, "ALTER TABLE parent ADD COLUMN extra INTEGER")
    assert setup.cloner.schema_fingerprint(template) != before


def test_only_derived_names_are_ever_touched(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    clone = naming.clone_name(template, 1, "abc123")
    real = setup.connection.settings_dict["NAME"]
    with pytest.raises(UnsafeDatabaseNameError):
        setup.cloner.clone(real, clone)  # never clone from the real database
    with pytest.raises(UnsafeDatabaseNameError):
        setup.cloner.clone(template, real)
    with pytest.raises(UnsafeDatabaseNameError):
        setup.cloner.drop(real)
    with pytest.raises(UnsafeDatabaseNameError):
        setup.cloner.drop("postgres")
    with pytest.raises(UnsafeDatabaseNameError):
        setup.cloner.create(template)  # only a build under its temporary name is created
    with pytest.raises(UnsafeDatabaseNameError):
        setup.cloner.clone(clone, naming.clone_name(template, 2, "abc123"))  # not a template
    assert real not in setup.cloner.list_names(setup.prefix)


def test_the_lock_is_exclusive_across_sessions(setup: Setup) -> None:
    assert setup.cloner.try_lock(setup.prefix)
    with setup.cloner.lock(setup.prefix):
        assert not setup.cloner.try_lock(setup.prefix)
        assert setup.cloner.try_lock(setup.prefix + "_other")
    assert setup.cloner.try_lock(setup.prefix)


def test_a_waiting_lock_is_granted_when_released(setup: Setup) -> None:
    order: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with setup.cloner.lock(setup.prefix):
            holding.set()
            time.sleep(0.5)
            order.append("first released")

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    with setup.cloner.lock(setup.prefix):
        order.append("second acquired")
    thread.join()
    assert order == ["first released", "second acquired"]


def test_runs_share_a_template_and_a_replacement_waits_for_every_one(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    said: list[str] = []
    with setup.cloner.hold(template, label="run one"), setup.cloner.hold(template, label="two"):
        assert len(setup.cloner.holders(template)) == 2
        with (
            pytest.raises(TemplateInUseError, match="still held after .* by 2 run"),
            setup.cloner.replacing(template, timeout=0.3, say=said.append),
        ):
            pass
        assert len(said) == 1 and "Waiting for 2 run(s) holding the template" in said[0], said
        if setup.vendor != "mysql":  # MariaDB names a holder by its clones (none here)
            assert "run one" in said[0] and "two" in said[0], said
    assert setup.cloner.holders(template) == []
    with setup.cloner.replacing(template, timeout=0):  # nobody holds it: no wait at all
        setup.cloner.drop(template)


def test_a_waiting_replacement_goes_before_new_holds(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    order: list[str] = []
    replacing = threading.Event()

    def replace() -> None:
        with setup.cloner.replacing(template, timeout=30, say=lambda _: replacing.set()):
            order.append("replaced")

    with setup.cloner.hold(template):
        thread = threading.Thread(target=replace)
        thread.start()
        assert replacing.wait(10)
        # A new run may not start holding it now, or a busy template would never be replaced.
        with (
            pytest.raises(DatabaseSetupError, match="replaced or dropped it"),
            setup.cloner.hold(template, timeout=0.3),
        ):
            pass
        order.append("released")
    thread.join(10)
    with setup.cloner.hold(template):
        order.append("held again")
    assert order == ["released", "replaced", "held again"]


def test_a_kept_clone_is_claimed_by_one_run_at_a_time(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    kept = naming.clone_name(template, 1, naming.KEEPDB_TOKEN)
    with setup.cloner.hold(template) as first:
        with setup.cloner.hold(template) as second:
            assert first.claim(kept)
            assert not second.claim(kept)
            assert not setup.cloner.try_lock(kept)  # a sweep leaves it alone too
        assert not setup.cloner.try_lock(kept)
    assert setup.cloner.try_lock(kept)  # the claim ended with its hold


def test_drop_without_force_leaves_a_database_in_use(setup: Setup) -> None:
    if not setup.cloner.can_terminate_sessions:
        pytest.skip("SQLite has no sessions to see")
    template = setup.publish(*PARENT_CHILD)
    clone = naming.clone_name(template, 1, "abc123")
    setup.cloner.clone(template, clone)
    session = setup.cloner._wrapper(clone)
    session.ensure_connection()
    try:
        assert setup.cloner.in_use(clone)
        assert setup.cloner.drop(clone, force=False) is False
        assert setup.cloner.exists(clone)
        assert setup.cloner.drop(clone) is True  # ours and about to go: its sessions end
        assert not setup.cloner.exists(clone)
    finally:
        try:
            session.close()
        except Exception:
            pass  # the server ended it


@pytest.mark.parametrize("vendor", ["postgresql"], indirect=True)
def test_postgresql_clone_waits_out_a_short_session_on_the_template(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    session = setup.cloner._wrapper(template)
    session.ensure_connection()
    session.inc_thread_sharing()  # closed from the timer's thread
    timer = threading.Timer(0.2, session.close)
    timer.start()
    clone = naming.clone_name(template, 1, "abc123")
    try:
        setup.cloner.clone(template, clone)
    finally:
        timer.join()
    assert setup.cloner.exists(clone)


@pytest.mark.parametrize("vendor", ["postgresql"], indirect=True)
def test_postgresql_clone_ends_a_stray_session_after_a_grace(setup: Setup) -> None:
    template = setup.publish(*PARENT_CHILD)
    setup.cloner.stray_session_grace = 0.1  # type: ignore[misc]
    clone = naming.clone_name(template, 1, "abc123")
    stray = setup.cloner._wrapper(template)  # a shell, or a crashed run's session
    stray.ensure_connection()
    setup.cloner.clone(template, clone)
    assert setup.cloner.exists(clone) and not setup.cloner.in_use(template)


@pytest.mark.parametrize("vendor", ["postgresql"], indirect=True)
def test_postgresql_never_ends_the_session_of_a_run_that_claims_the_template(
    setup: Setup,
) -> None:
    template = setup.publish(*PARENT_CHILD)
    setup.cloner.stray_session_grace = 0.1  # type: ignore[misc]
    setup.cloner.say_after = 0.1  # type: ignore[misc]
    parent = setup.cloner._wrapper(template)  # another run's parent, running its checks
    parent.ensure_connection()
    said: list[str] = []
    try:
        with setup.cloner.guard(template):
            assert setup.cloner.try_lock(setup.prefix)  # builds of the project do not wait
            with pytest.raises(DatabaseSetupError, match="stayed in use"):
                setup.cloner.clone(
                    template,
                    naming.clone_name(template, 1, "abc123"),
                    deadline=time.monotonic() + 0.6,
                    say=said.append,
                )
            assert setup.cloner.in_use(template)
        # Said once, naming the session it waits for.
        assert len(said) == 1 and "waits for 1 other session(s)" in said[0], said
        pid = parent.connection.info.backend_pid
        assert f"server session {pid}" in said[0], said
    finally:
        parent.close()


@pytest.mark.parametrize("vendor", ["mysql"], indirect=True)
def test_mysql_clone_copies_triggers_routines_generated_columns_and_auto_increment(
    setup: Setup,
) -> None:
    template = setup.publish(
        "CREATE TABLE item (id INTEGER AUTO_INCREMENT PRIMARY KEY, price INTEGER NOT NULL, "
        "doubled INTEGER AS (price * 2) VIRTUAL, zero_ok INTEGER)",
        "CREATE TABLE audit (id INTEGER AUTO_INCREMENT PRIMARY KEY, item_id INTEGER)",
        "CREATE TRIGGER item_audit AFTER INSERT ON item FOR EACH ROW "
        "INSERT INTO audit (item_id) VALUES (NEW.id)",
        "CREATE FUNCTION twice(x INTEGER) RETURNS INTEGER DETERMINISTIC RETURN x * 2",
        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
        "INSERT INTO item (id, price) VALUES (0, 5), (7, 10)",
    )
    assert len(setup.sql(template, "SELECT id FROM audit")) == 2
    clone = naming.clone_name(template, 1, "abc123")
    setup.cloner.clone(template, clone)
    rows = setup.sql(clone, "SELECT id, price, doubled FROM item ORDER BY id")
    assert rows == [(0, 5, 10), (7, 10, 20)]  # an explicit 0 id stays 0
    assert len(setup.sql(clone, "SELECT id FROM audit")) == 2  # copying fired no trigger
    setup.sql(clone, "INSERT INTO item (price) VALUES (1)")
    assert setup.sql(clone, "SELECT MAX(id) FROM item") == [(8,)]  # AUTO_INCREMENT kept
    assert len(setup.sql(clone, "SELECT id FROM audit")) == 3  # the trigger came along
    assert setup.sql(clone, "SELECT twice(21)") == [(42,)]


# -- WorkerDatabases in a real project ------------------------------------------------------------

SLOT_SCRIPT = """
import json, pickle
from django.db import connections
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.databases.attach import connect_worker

real = connections["default"].settings_dict["NAME"]
dbs = WorkerDatabases({"default": True, "replica": False}, log=lambda message: None, verbosity=0)
dbs.setup()
out = {"parent": connections["default"].settings_dict["NAME"],
       "replica": connections["replica"].settings_dict["NAME"],
       "serialized": bool(connections["default"]._test_serialized_contents)}
first = dbs.prepare_slot(1)
pickle.dumps(first)
out["clone"] = dbs.database_name(1)
out["names_real"] = [s["NAME"] == real for s in first.values()]
connect_worker(1, first, restore=False)
from shelf.models import Author
Author.objects.create(name="written by worker 1")
out["worker_rows"] = Author.objects.count()
out["replica_sees_it"] = Author.objects.using("replica").count()
connections.close_all()
dbs.prepare_slot(1)  # a replaced worker: a fresh clone
connect_worker(1, dbs.worker_settings(1), restore=True)
out["fresh_rows"] = Author.objects.count()
connections.close_all()
both = dbs.prepare_slots([2, 3])  # the slots' clones made at once
out["slots_at_once"] = sorted(both)
out["names_at_once"] = len({dbs.database_name(2), dbs.database_name(3), dbs.database_name(1)})
out["clone_seconds"] = len(dbs.clone_seconds)
dbs.teardown()
out["restored"] = connections["default"].settings_dict["NAME"] == real
print("RESULT " + json.dumps(out))
"""


def test_worker_databases_slots_give_fresh_clones_and_teardown_restores(
    vendor: str, tmp_path: Path
) -> None:
    from tests.projects import drop_server_databases, make_project

    project = make_project(tmp_path, vendor)
    project.env["TEMPLATE_MIRROR"] = "1"
    try:
        done = project.manage("shell", "-c", SLOT_SCRIPT)
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout.split("RESULT ", 1)[1])
        parsed = naming.parse(result["parent"])
        assert parsed is not None and parsed.kind == naming.TEMPLATE
        assert result["replica"] == result["parent"]  # the mirror follows its primary
        assert result["serialized"] is True
        clone = result["clone"].removesuffix(" (in memory)")  # SQLite workers test in memory
        assert naming.assert_derived(clone).kind == naming.CLONE
        assert result["names_real"] == [False, False]
        assert result["worker_rows"] == 2  # the seeded author and the new one
        assert result["replica_sees_it"] == 2
        assert result["fresh_rows"] == 1
        assert result["slots_at_once"] == [2, 3] and result["names_at_once"] == 3
        assert result["clone_seconds"] == 4
        assert result["restored"] is True
        assert [naming.parse(n).kind for n in project.databases()] == ["tpl"]  # type: ignore[union-attr]
    finally:
        if vendor != "sqlite":
            drop_server_databases(vendor, project.prefix)
        shutil.rmtree(project.path, ignore_errors=True)
