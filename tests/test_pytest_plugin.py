"""The pytest plugin on the three vendors: plain pytest's verdicts, clones, warm runs, crashes.

Each test runs pytest in a subprocess on a project of its own database (see
:mod:`tests.pytest_runs`); ``tests/pytest_probe.py`` reports which migrations ran and which
clone each worker used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from concurrent_test_app.databases import naming
from tests import dbserver
from tests.conftest import require_server
from tests.pytest_runs import PLUGIN, Probe, PytestProject, make_project, outcomes


@pytest.fixture
def sample(tmp_path: Path, vendor: str) -> Iterator[PytestProject]:
    project = make_project(tmp_path, vendor, sample=True)
    try:
        yield project
    finally:
        project.drop()


@pytest.fixture
def fixture_project(tmp_path: Path, vendor: str) -> Iterator[PytestProject]:
    project = make_project(tmp_path, vendor)
    try:
        yield project
    finally:
        project.drop()


def _template_of(database: str, kind: str = naming.CLONE) -> str:
    """Return which template a clone was made from, or a template is (prefix, fingerprint)."""
    parsed = naming.parse(database)
    assert parsed is not None and parsed.kind == kind, database
    return f"{parsed.prefix}/{parsed.fingerprint}"


def _kind(name: str) -> str:
    parsed = naming.parse(name)
    assert parsed is not None, name
    return parsed.kind


def _assert_two_clones_of_one_template(probe: Probe, vendor: str) -> None:
    clones = probe.clones()
    assert sorted(clones) == ["gw0", "gw1"], probe.lines()
    templates = {template for template, _ in clones.values()}
    databases = {database for _, database in clones.values()}
    assert len(templates) == 1 and len(databases) == 2, clones
    if vendor != "sqlite":  # SQLite's test database lives in memory, loaded from the template
        assert {_template_of(d) for d in databases} == {
            _template_of(templates.pop(), naming.TEMPLATE)
        }


def test_sample_project_under_xdist_has_plain_pytest_verdicts(
    sample: PytestProject, tmp_path: Path, vendor: str
) -> None:
    plain = sample.run("-p", f"no:{PLUGIN}", "--junitxml", str(tmp_path / "plain.xml"))
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-3000:]
    expected = outcomes(tmp_path / "plain.xml")
    assert len(expected) >= 71

    probe = Probe(tmp_path / "probe.txt")
    for run, extra in (("cold", ["--create-db"]), ("warm", [])):
        done = sample.run(
            "-n", "2", "-p", "tests.pytest_probe", *extra,
            "--junitxml", str(tmp_path / f"{run}.xml"),
            **probe.env(),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert outcomes(tmp_path / f"{run}.xml") == expected, run
        _assert_two_clones_of_one_template(probe, vendor)
        if run == "cold":
            assert "Built template for alias 'default'" in done.stdout, done.stdout[-2000:]
            assert probe.migrations(), "a cold run migrates the template"
        else:
            assert "Reused template for alias 'default'" in done.stdout, done.stdout[-2000:]
            assert probe.migrations() == [], "a warm run applies no migration"
    # Only the template is left on the server: every clone was dropped at the end.
    assert all(_kind(name) == naming.TEMPLATE for name in sample.server_databases())


def test_a_killed_worker_is_replaced_with_a_fresh_clone(
    fixture_project: PytestProject, tmp_path: Path, vendor: str
) -> None:
    probe = Probe(tmp_path / "probe.txt")
    junit = tmp_path / "crash.xml"
    done = fixture_project.run(
        "-n", "1", "-p", "tests.pytest_probe", "--junitxml", str(junit),
        PYTEST_PROJECT_CRASH=str(tmp_path / "crashed-once"), **probe.env(),
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "replacing crashed worker gw0" in output, output[-3000:]
    assert "worker 'gw0' crashed while running 'notes/tests.py::CrashTests::test_crash'" in output
    verdicts = outcomes(junit)
    assert verdicts.pop("notes.tests.CrashTests.test_crash") == "error"
    assert verdicts == {
        "notes.tests.SeededTests.test_seed_rows": "passed",
        "notes.tests.SeededTests.test_write": "passed",
        "notes.tests.FlushingTests.test_flushes": "passed",
        "notes.tests.CrashTests.test_before": "passed",
        "notes.tests.CrashTests.test_failing": "failed",
        "notes.tests.PlainTests.test_plain": "passed",
        "notes.tests.PlainTests.test_skipped": "skipped",
        "notes.tests.test_function_with_db": "passed",
        "notes.tests.test_function_transactional": "passed",
        "notes.tests.test_function_without_db": "passed",
    }
    clones = probe.clones()
    # The replacement (gw1) worked on a clone of its own, not on the crashed worker's.
    assert sorted(clones) == ["gw0", "gw1"], probe.lines()
    assert clones["gw0"][0] == clones["gw1"][0] and clones["gw0"][1] != clones["gw1"][1]
    assert probe.migrations() == [] or "Built template" in done.stdout
    # The crashed worker's clone is dropped by the controller at the end.
    assert all(_kind(name) == naming.TEMPLATE for name in fixture_project.server_databases())


def _has_marker(vendor: str, database: str) -> bool:
    tables = "pg_tables WHERE tablename" if vendor == "postgresql" else "information_schema.tables"
    column = "" if vendor == "postgresql" else " WHERE table_name"
    with dbserver.connect(vendor, database) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM {tables}{column} = 'reuse_marker'")
        return bool(cursor.fetchone()[0])


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_reuse_db_keeps_a_clean_clone_and_never_a_flushed_one(tmp_path: Path, server: str) -> None:
    require_server(server)
    project = make_project(tmp_path, server)
    probe = Probe(tmp_path / "probe.txt")
    clean = ["-n", "1", "--reuse-db", "-p", "tests.pytest_probe", "-k", "SeededTests or Plain"]
    try:
        done = project.run(*clean, **probe.env())
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        kept = probe.clones()["gw0"][1]
        assert kept in project.server_databases()
        dbserver.execute(server, kept, "CREATE TABLE reuse_marker (id INTEGER)")
        done = project.run(*clean, **probe.env())
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert probe.clones()["gw0"][1] == kept and probe.migrations() == []
        assert _has_marker(server, kept), "the kept clone was reused as it was"
        # A transactional test flushes the clone: it is dropped, not kept.
        flushing = [*clean[:-1], "FlushingTests or SeededTests"]
        done = project.run(*flushing, **probe.env())
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert kept not in project.server_databases()
        done = project.run(*clean, **probe.env())
        assert done.returncode == 0 and not _has_marker(server, kept), "a fresh clone"
    finally:
        project.drop()
