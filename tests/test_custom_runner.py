"""A project's own DiscoverRunner subclass keeps its hooks and options under concurrent_test."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_manage

PROJECT = Path(__file__).parent / "fixture_suites" / "custom_runner"


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_project_runner_hooks_and_options_reach_every_worker(
    start_method: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = run_manage(
        PROJECT,
        "concurrent_test",
        "--flavour",
        "vanilla",
        "--workers",
        "2",
        "--start-method",
        start_method,
        "--no-history",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 2 tests" in done.stderr
    assert "\nOK\n" in done.stderr


def test_the_hook_is_really_needed(tmp_path: Path) -> None:
    """Without the project's option the hook sets another value, and the test says so."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = run_manage(PROJECT, "concurrent_test", "--workers", "2", "--no-history", env=env)
    assert done.returncode == 1, done.stderr
    assert "'hooked-plain' != 'hooked-vanilla'" in done.stderr


def test_concurrent_runner_as_test_runner_setting(tmp_path: Path) -> None:
    """TEST_RUNNER (here --testrunner) can name ConcurrentTestRunner for `manage.py test`."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = run_manage(
        PROJECT,
        "test",
        "--testrunner",
        "concurrent_test_app.runner.ConcurrentTestRunner",
        "--workers",
        "2",
        "--no-history",
        "proj.tests.DatabaseTests",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 1 test" in done.stderr
