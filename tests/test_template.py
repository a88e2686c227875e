"""Template databases on the real servers and SQLite, driven through manage.py in a copy of the
template fixture project: build then reuse, a new fingerprint after an edited migration,
--check, concurrent builds, a build killed half way, --prune, incremental updates, and a warm
concurrent_test run that migrates nothing.

Every database these tests make starts with ``test_tplq_<random>``, and each test drops its own.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.projects import (
    LINE,
    Project,
    add_migration,
    execute_in,
    naming_kind,
)

# -- tests ---------------------------------------------------------------------------------------


def test_build_then_reuse_then_rebuild_after_an_edited_migration(project: Project) -> None:
    assert project.manage("build_test_template", "--check").returncode == 1
    first = project.build()
    assert first["action"] == "built" and int(first["applied"]) >= 3
    again = project.build()
    assert (again["action"], again["name"], again["fp"]) == ("reused", first["name"], first["fp"])
    check = project.manage("build_test_template", "--check")
    assert check.returncode == 0 and "current" in check.stdout

    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    seed.write_text(seed.read_text() + "\n# edited\n")
    check = project.manage("build_test_template", "--check")
    assert check.returncode == 1 and "stale" in check.stdout, check.stdout
    rebuilt = project.build()
    # An edited file is never an incremental update: everything is migrated again.
    assert rebuilt["action"] == "built" and rebuilt["fp"] != first["fp"]
    assert rebuilt["schema"] == first["schema"]  # a comment changed nothing in the schema
    assert project.manage("build_test_template", "--check").returncode == 0
    assert {first["name"], rebuilt["name"]} <= set(project.databases())


def test_check_tells_a_template_altered_after_its_build(project: Project) -> None:
    built = project.build()
    execute_in(
        project.vendor, project.location(built["name"]), "CREATE TABLE intruder (id INTEGER)"
    )
    check = project.manage("build_test_template", "--check")
    assert check.returncode == 1 and "altered" in check.stdout, check.stdout


def test_two_builds_at_the_same_moment_build_once(project: Project) -> None:
    runs = [project.popen("build_test_template") for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    actions = sorted(LINE.search(out)["action"] for out, _err in outputs)  # type: ignore[index]
    assert actions == ["built", "reused"], outputs


def wait_until_building(project: Project, run: subprocess.Popen[str]) -> None:
    """Wait until ``run`` has made its half-built (``_bld_``) template database."""
    deadline = time.monotonic() + 60
    while not any("_bld_" in name for name in project.databases()):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.1)


def test_a_build_killed_half_way_is_cleaned_up_by_the_next(project: Project) -> None:
    run = project.popen("build_test_template", SLOW_MIGRATION="60")
    try:
        wait_until_building(project, run)
        time.sleep(0.3)  # well inside the sleeping data migration
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate()
    assert any("_bld_" in name for name in project.databases())
    done = project.manage("build_test_template")
    assert done.returncode == 0, done.stderr
    assert "Dropped the half-built template" in done.stdout
    assert LINE.search(done.stdout)["action"] == "built"  # type: ignore[index]
    assert not any("_bld_" in name for name in project.databases())
    assert project.manage("build_test_template", "--check").returncode == 0


@pytest.mark.parametrize("command", ["build_test_template", "concurrent_test"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_build_stopped_by_a_signal_leaves_nothing_half_built(
    project: Project, command: str, signum: int
) -> None:
    """Found on a real suite: SIGTERM mid-build left a ``_bld_`` database on the server."""
    run = project.popen(
        command, "--noinput" if command == "concurrent_test" else "-v1", SLOW_MIGRATION="60"
    )
    try:
        wait_until_building(project, run)
    finally:
        run.send_signal(signum)
        _out, err = run.communicate(timeout=120)
    assert run.returncode == (143 if signum == signal.SIGTERM else 130), err
    assert "Traceback" not in err, err
    assert not any("_bld_" in name for name in project.databases()), project.databases()
    assert project.manage("build_test_template", "--check").returncode == 1  # nothing published


def test_prune_drops_only_this_projects_older_templates(project: Project, tmp_path: Path) -> None:
    old = project.build()
    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    seed.write_text(seed.read_text() + "\n# edited\n")
    current = project.build()
    neighbour = project.copy(tmp_path / "neighbour")  # same settings module, another folder
    theirs = neighbour.build()
    assert theirs["name"] not in (old["name"], current["name"])

    pruned = project.manage("build_test_template", "--prune", TEMPLATES_TO_KEEP="0")
    assert pruned.returncode == 0, pruned.stderr
    assert f"dropped {old['name']}" in pruned.stdout
    left = set(project.databases()) | set(neighbour.databases())
    assert current["name"] in left and theirs["name"] in left
    assert old["name"] not in left


def test_prune_keeps_the_newest_few(project: Project) -> None:
    seed = project.path / "shelf" / "migrations" / "0003_seed.py"
    names = []
    for edit in range(3):
        names.append(project.build()["name"])
        seed.write_text(seed.read_text() + f"\n# edit {edit}\n")
    current = project.build()["name"]
    pruned = project.manage("build_test_template", "--prune", TEMPLATES_TO_KEEP="1")
    assert pruned.returncode == 0, pruned.stderr
    left = set(project.databases())
    assert current in left and names[-1] in left
    assert not left & set(names[:-1])


def test_one_added_migration_is_applied_on_a_clone_of_the_older_template(project: Project) -> None:
    first = project.build()
    add_migration(project)
    updated = project.build()
    assert updated["action"] == "incremental", updated.group(0)
    assert updated["applied"] == "1"
    assert updated["fp"] != first["fp"]
    full = project.build("--force")
    assert full["action"] == "built" and int(full["applied"]) > 1
    assert full["schema"] == updated["schema"]
    assert full["schema"] != first["schema"]


def test_a_warm_concurrent_test_run_performs_no_migration(project: Project, tmp_path: Path) -> None:
    log = tmp_path / "migrations.log"
    cold = project.manage("concurrent_test", "--workers", "2", "--noinput", MIGRATION_LOG=str(log))
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert log.read_text().count("migrate default") == 1
    warm = project.manage("concurrent_test", "--workers", "2", "--noinput", MIGRATION_LOG=str(log))
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert log.read_text().count("migrate default") == 1, "the warm run migrated"
    # Its clones are gone but the ready clones it leaves for the next run; the template stays.
    left = [name for name in project.databases() if "_ready_" not in name]
    assert [naming_kind(name) for name in left] == ["tpl"], left


def test_keepdb_reuses_worker_clones_while_the_fingerprint_matches(
    project: Project, tmp_path: Path
) -> None:
    if project.vendor == "sqlite":  # in memory there is nothing to keep: test on files
        project.env["TEST_DATABASE_FILE"] = str(project.path / "test_db.sqlite3")
    first = project.manage("concurrent_test", "--workers", "2", "--keepdb", "--noinput")
    assert first.returncode == 0, first.stdout + first.stderr
    # Two workers, one unit each: the slot that ran the TransactionTestCase is flushed and not
    # kept; the slot that ran only the TestCase is kept, and reused next time.
    kept = [name for name in project.databases() if naming_kind(name) == "w"]
    assert len(kept) == 1, project.databases()
    again = project.manage("concurrent_test", "--workers", "2", "--keepdb", "--noinput")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len([name for name in project.databases() if naming_kind(name) == "w"]) == 1
    add_migration(project)
    third = project.manage("concurrent_test", "--workers", "2", "--keepdb", "--noinput")
    assert third.returncode == 0, third.stdout + third.stderr
    now = [name for name in project.databases() if naming_kind(name) == "w"]
    assert not set(now) & set(kept)  # the stale kept clones went


def test_keepdb_never_keeps_a_clone_a_transaction_test_case_flushed(
    project: Project, tmp_path: Path
) -> None:
    """One worker runs the TestCase, then the TransactionTestCase, whose flush empties the
    clone; keeping that clone would make the next run's TestCase miss the template's rows."""
    if project.vendor == "sqlite":
        project.env["TEST_DATABASE_FILE"] = str(project.path / "test_db.sqlite3")
    args = ("concurrent_test", "--workers", "1", "--scheduler", "discovery", "--keepdb")
    for _ in range(2):
        done = project.manage(*args, "--noinput")
        assert done.returncode == 0, done.stdout + done.stderr
        assert [n for n in project.databases() if naming_kind(n) == "w"] == [], project.databases()
