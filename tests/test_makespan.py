"""The second run, with timing history, finishes sooner than discovery order.

The skewed fixture suite holds six short classes discovered first and one long class
discovered last, all made of sleeps so the result holds on a loaded machine. Handed out in
discovery order to two workers, the long class starts last and one worker idles; handed out
longest first from history, both workers stay busy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, run_manage

SKEWED = ROOT / "tests" / "fixture_suites" / "skewed"
LONG_UNIT = "sleepy.tests.test_z_long.LongTests"
# pytest-django exports tests.settings; the fixture project has its own.
SETTINGS = {"DJANGO_SETTINGS_MODULE": "skewed_project.settings"}


def concurrent_test(env: dict[str, str], report: Path, *args: str) -> tuple[dict[str, Any], str]:
    completed = run_manage(
        SKEWED,
        "concurrent_test",
        "--workers",
        "2",
        "--no-progress",
        "--json-report",
        str(report),
        *args,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(report.read_text()), completed.stderr


def makespan(report: dict[str, Any]) -> float:
    """Return how long the busiest worker worked, from the report's own worker records."""
    return max(worker["busy_seconds"] for worker in report["workers"])


def ideal(report: dict[str, Any]) -> float:
    seconds = [unit["seconds"] for unit in report["units"]]
    return max(sum(seconds) / len(report["workers"]), max(seconds))


def assert_history_helped(cold: dict[str, Any], warm: dict[str, Any]) -> None:
    assert cold["summary"]["tests_run"] == warm["summary"]["tests_run"] == 15
    # Discovery order: about 0.9 s of short classes per worker, then 1.8 s of the long one.
    # Longest first: the long class on one worker, all short ones on the other, about 1.8 s.
    assert makespan(warm) < makespan(cold) - 0.4, (makespan(cold), makespan(warm))
    assert makespan(warm) <= ideal(warm) * 1.15, (makespan(warm), ideal(warm))
    assert warm["summary"]["wall_seconds"] < cold["summary"]["wall_seconds"]


def test_second_run_with_history_beats_discovery_order(tmp_path: Path) -> None:
    env = {**SETTINGS, "DATABASE_URL": f"sqlite:///{tmp_path / 'history.sqlite3'}"}
    migrated = run_manage(SKEWED, "migrate", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr

    cold, _ = concurrent_test(env, tmp_path / "cold.json", "--scheduler", "discovery")
    warm, _ = concurrent_test(env, tmp_path / "warm.json", "--scheduler", "longest")

    assert_history_helped(cold, warm)


def test_timings_file_stands_in_for_history_on_a_fresh_machine(tmp_path: Path) -> None:
    # No migrate: the database has no history tables, as on a fresh CI runner.
    env = {**SETTINGS, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    timings = tmp_path / "timings.json"

    cold, stderr = concurrent_test(
        env, tmp_path / "cold.json", "--scheduler", "discovery", "--timings-file", str(timings)
    )
    assert "run `manage.py migrate` to enable timing history" in stderr
    exported = json.loads(timings.read_text())
    assert exported["units"][LONG_UNIT]["seconds"] >= 1.5
    assert exported["units"][LONG_UNIT]["setup_seconds"] >= 0.25

    warm, _ = concurrent_test(
        env, tmp_path / "warm.json", "--scheduler", "longest", "--timings-file", str(timings)
    )

    assert_history_helped(cold, warm)
    assert json.loads(timings.read_text())["units"][LONG_UNIT]["runs"] == 2
