"""Ready clones (issue 14, point 4): a run leaves clean clones that the next run uses as they are.

Real processes on SQLite, PostgreSQL and MariaDB, in copies of the template fixture project:

- a warm run uses the ready clone by name, cloning nothing: a row written into the ready
  clone's bookkeeping by hand is still there after the run, also when its TestCases moved the
  key counters (set back in place);
- a clone that a TransactionTestCase flushed is never made ready: it is cloned again from the
  template, with the template's rows, before it is left;
- two runs at once never share one; a killed run's claimed clone is cloned again, never used;
- ``build_test_template --prune`` and a new fingerprint drop them; the setting off makes none.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import dbserver
from tests.projects import Project, add_migration
from tests.test_two_runs import (  # noqa: F401  # background is a fixture
    Background,
    background,
    on_files,
    start_waiting_run,
)

MARKER = "ready_marker"
BOOKKEEPING = "concurrent_test_template"


def ready_clones(project: Project) -> list[str]:
    from concurrent_test_app.databases import naming

    return [
        name
        for name in project.databases()
        if (parsed := naming.parse(name)) is not None and parsed.token == naming.READY_TOKEN
    ]


def query(project: Project, name: str, sql: str) -> list[Any]:
    """Return the rows ``sql`` selects in the database ``name``."""
    if project.vendor == "sqlite":
        with sqlite3.connect(project.location(name)) as connection:
            return connection.execute(sql).fetchall()
    with dbserver.connect(project.vendor, name) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []


def mark(project: Project, name: str) -> None:
    """Write a row that only this very database holds into the clone ``name``'s bookkeeping
    (no model's table: the schema stays the template's, and a fresh clone has no such row)."""
    query(project, name, f"INSERT INTO {BOOKKEEPING} (name, value) VALUES ('{MARKER}', '1')")


def marked(project: Project, name: str) -> bool:
    return bool(query(project, name, f"SELECT 1 FROM {BOOKKEEPING} WHERE name = '{MARKER}'"))


def run(project: Project, label: str, tmp_path: Path, *options: str) -> tuple[str, dict[str, Any]]:
    """Run ``label`` on one worker with ``options``; return its output and JSON report."""
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    done = project.manage(
        "concurrent_test",
        f"shelf.crossrun.{label}",
        "--workers",
        "1",
        "--noinput",
        "--no-history",
        "--json-report",
        str(report),
        "-v",
        "2",
        *options,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output, json.loads(report.read_text())


def database_of(report: dict[str, Any]) -> str:
    [worker] = report["workers"]
    return str(worker["database"])


def leave_one(project: Project, tmp_path: Path) -> str:
    """Run once, so that one ready clone is left; return it, marked."""
    on_files(project)
    run(project, "ReadsSeed", tmp_path)
    [ready] = ready_clones(project)
    mark(project, ready)
    return ready


def test_a_warm_run_uses_the_ready_clone_as_it_is_and_leaves_it_ready(
    project: Project, tmp_path: Path
) -> None:
    ready = leave_one(project, tmp_path)

    _, report = run(project, "SeesMarker", tmp_path)  # fails on any copy: nothing was cloned

    assert database_of(report) == ready
    assert ready_clones(project) == [ready]
    assert marked(project, ready)  # left ready in place, not cloned again


def test_a_ready_clone_whose_counters_a_test_case_moved_is_set_back_in_place(
    project: Project, tmp_path: Path
) -> None:
    ready = leave_one(project, tmp_path)

    output, _ = run(project, "NextIdIsTheTemplates", tmp_path)  # a row added, rolled back

    assert "Left 1 ready clone(s)" in output and "(0 cloned again)" in output, output
    assert marked(project, ready)  # the very database: its counters were set back in it
    _, report = run(project, "NextIdIsTheTemplates", tmp_path)  # the template's next id again
    assert database_of(report) == ready


def test_a_ready_clone_gives_new_rows_the_ids_of_a_fresh_clone(
    project: Project, tmp_path: Path
) -> None:
    on_files(project)
    run(project, "NextIdIsTheTemplates", tmp_path)  # cold: a fresh clone, then left ready
    [ready] = ready_clones(project)

    # Warm, on the ready clone: before the fix its id was one past the cold run's row there.
    _, report = run(project, "NextIdIsTheTemplates", tmp_path)  # (run() asserts exit 0)

    assert database_of(report) == ready


def test_a_keepdb_clone_gives_new_rows_the_ids_of_a_fresh_clone(
    project: Project, tmp_path: Path
) -> None:
    on_files(project)
    run(project, "NextIdIsTheTemplates", tmp_path, "--keepdb")
    [kept] = [name for name in project.databases() if "_w1_" in name and "_ready_" not in name]

    # Its counters were set back when it was kept; before, the new row's id was one further.
    _, report = run(project, "NextIdIsTheTemplates", tmp_path, "--keepdb")

    assert database_of(report) == kept


def test_a_clone_a_transaction_test_case_flushed_is_never_made_ready(
    project: Project, tmp_path: Path
) -> None:
    ready = leave_one(project, tmp_path)

    _, report = run(project, "Flushes", tmp_path)

    assert database_of(report) == ready  # it used the ready clone, and flushed it
    assert ready_clones(project) == [ready]
    assert not marked(project, ready)  # cloned again from the template before it was left
    assert query(project, ready, "SELECT title FROM shelf_book") == [("Seeded",)]
    _, again = run(project, "ReadsSeed", tmp_path)  # the template's rows are there
    assert database_of(again) == ready


def test_two_runs_at_once_never_share_a_ready_clone(
    project: Project,
    tmp_path: Path,
    background: Callable[..., Background],  # noqa: F811  # the fixture imported above
) -> None:
    ready = leave_one(project, tmp_path)
    first_report = tmp_path / "first.json"
    first, go = start_waiting_run(
        tmp_path, background, "first", "--no-history", "--json-report", str(first_report)
    )

    _, second = run(project, "ReadsSeed", tmp_path)
    go.touch()
    assert first.finish() == 0, first.output()

    assert database_of(json.loads(first_report.read_text())) == ready
    assert marked(project, ready)  # see the first test
    assert database_of(second) != ready  # claimed by the first run: it made its own
    assert ready_clones(project) == [ready]  # the second run's was not needed any more


def test_a_killed_runs_clone_is_cloned_again_never_used_as_it_is(
    project: Project,
    tmp_path: Path,
    background: Callable[..., Background],  # noqa: F811  # the fixture imported above
) -> None:
    ready = leave_one(project, tmp_path)
    doomed, _ = start_waiting_run(tmp_path, background, "doomed")  # GO never comes
    doomed.kill()

    _, report = run(project, "ReadsSeed", tmp_path)

    assert database_of(report) == ready
    assert not marked(project, ready)
    assert ready_clones(project) == [ready]


def test_a_ready_clone_of_a_template_rebuilt_since_is_cloned_again(
    project: Project, tmp_path: Path
) -> None:
    ready = leave_one(project, tmp_path)

    _, report = run(project, "ReadsSeed", tmp_path, "--rebuild-template")

    assert database_of(report) == ready
    assert not marked(project, ready)  # a clone of the old build is never used as it is
    assert ready_clones(project) == [ready]


def test_prune_and_a_new_fingerprint_drop_ready_clones(project: Project, tmp_path: Path) -> None:
    old = leave_one(project, tmp_path)
    add_migration(project)

    output, report = run(project, "ReadsSeed", tmp_path)

    assert f"Dropped the clone {old}: it was a ready clone of a template of another" in output
    [new] = ready_clones(project)
    assert new != old and database_of(report) == new
    done = project.manage("build_test_template", "--prune")
    assert done.returncode == 0, done.stdout + done.stderr
    assert new in done.stdout + done.stderr
    assert ready_clones(project) == []


def test_with_the_setting_off_a_run_leaves_no_clone(project: Project, tmp_path: Path) -> None:
    on_files(project)
    project.env["READY_CLONES"] = "false"

    run(project, "Flushes", tmp_path)
    run(project, "ReadsSeed", tmp_path)

    assert [name for name in project.databases() if "_w" in name] == []
