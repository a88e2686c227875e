"""Per-test limits in real runs: ``@concurrent_test_app.timeout`` and ``--adaptive-timeouts``.

The decorator on a method or a class overrides ``--timeout-per-test`` both ways (tighter and
looser), and a method's beats its class's. With ``--adaptive-timeouts`` a test's limit is the
larger of the floor and a multiple of its 95th-percentile duration in the timing history,
which the test writes, synthetic, into the fixture project's real database after ``migrate``
(the runner reads it from there, through the history models).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixture_suites.faults import harness
from tests.fixture_suites.faults.harness import Project, Run, create_real_database, make_project

project = harness.project
used_servers = harness.used_servers

LIMITS = "mishaps.tests.test_limits."
ADAPTIVE = "mishaps.tests.test_adaptive."

# test id -> the limit (seconds) its error must name, or None when it must pass.
DECORATOR_EXPECTATIONS: dict[str, str | None] = {
    f"{LIMITS}UndecoratedTests.test_quick": None,
    f"{LIMITS}UndecoratedTests.test_past_the_flag": "2",
    f"{LIMITS}DecoratedMethodTests.test_tighter_than_the_flag": "1",
    f"{LIMITS}DecoratedMethodTests.test_looser_than_the_flag": None,
    f"{LIMITS}LooseClassTests.test_takes_the_class_limit": None,
    f"{LIMITS}LooseClassTests.test_method_beats_class": "1",
    f"{LIMITS}TightClassTests.test_takes_the_class_limit": "1",
}

# With a floor of 1 s and the default multiple of 10 (see the fixture module's docstring).
ADAPTIVE_EXPECTATIONS: dict[str, str | None] = {
    f"{ADAPTIVE}UsuallyQuickTests.test_sleeps": "1",
    f"{ADAPTIVE}UsuallyModerateTests.test_sleeps": "1.5",
    f"{ADAPTIVE}UsuallySlowTests.test_sleeps": None,
    f"{ADAPTIVE}WithoutHistoryTests.test_sleeps": None,
    f"{ADAPTIVE}DecoratedTests.test_sleeps": None,
}
ADAPTIVE_ENV = {"DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR": "1"}


def mismatches(run: Run, expectations: dict[str, str | None]) -> list[str]:
    """Return every test whose outcome or named limit differs from ``expectations``."""
    problems = []
    outcomes, messages = run.outcomes, run.messages
    if set(outcomes) != set(expectations):
        problems.append(f"ids: expected {sorted(expectations)}, got {sorted(outcomes)}")
    for test_id, limit in expectations.items():
        outcome, message = outcomes.get(test_id), messages.get(test_id, "")
        if limit is None and outcome != "passed":
            problems.append(f"{test_id}: expected passed, got {outcome}: {message[:200]!r}")
        elif limit is not None:
            named = re.search(r"timed out after ([0-9.]+) s\b", message)
            if outcome != "error" or named is None or named.group(1) != limit:
                problems.append(
                    f"{test_id}: expected an error naming {limit} s, got {outcome}: "
                    f"{message[:200]!r}"
                )
    return problems


def run_adaptive(project: Project, *options: str) -> Run:
    """Run the adaptive-timeout tests on the history ``project`` holds, with a 1 s floor."""
    return project.concurrent_test(
        "mishaps.tests.test_adaptive", *options, history=True, env=ADAPTIVE_ENV, timeout=180
    )


def test_timeout_decorator_on_method_and_class_overrides_the_flag(tmp_path: Path) -> None:
    sqlite = make_project("sqlite", tmp_path)
    run = sqlite.concurrent_test(
        "mishaps.tests.test_limits", "--timeout-per-test", "2", timeout=180
    )

    assert run.returncode == 1, run.describe()
    problems = mismatches(run, DECORATOR_EXPECTATIONS)
    assert not problems, "\n".join(problems) + "\n" + run.describe()
    assert sqlite.leftovers() == [], run.describe()


@pytest.fixture
def history_project(vendor: str, tmp_path: Path, used_servers: set[str]) -> Project:
    """Return the fixture project with a migrated real database holding a synthetic history."""
    if vendor != "sqlite":
        used_servers.add(vendor)
    seeded = make_project(vendor, tmp_path, suffix="h")
    if vendor != "sqlite":
        create_real_database(vendor, seeded.database)
    migrated = seeded.manage("migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.describe()
    seed = seeded.manage("seed_test_history")
    assert seed.returncode == 0, seed.describe()
    return seeded


def test_adaptive_timeouts_follow_the_synthetic_history(
    history_project: Project, tmp_path: Path
) -> None:
    run = run_adaptive(history_project, "--timeout-per-test", "60", "--adaptive-timeouts")

    assert run.returncode == 1, run.describe()
    problems = mismatches(run, ADAPTIVE_EXPECTATIONS)
    assert not problems, "\n".join(problems) + "\n" + run.describe()
    assert history_project.leftovers() == [], run.describe()


def test_without_adaptive_timeouts_the_flag_rules(tmp_path: Path) -> None:
    """The control: same history, same floor, no --adaptive-timeouts; the flag's 10 s rules."""
    sqlite = make_project("sqlite", tmp_path, suffix="h")
    assert sqlite.manage("migrate", "--noinput", "-v", "0").returncode == 0
    assert sqlite.manage("seed_test_history").returncode == 0

    run = run_adaptive(sqlite, "--timeout-per-test", "10")

    assert run.returncode == 1, run.describe()
    flag_only = {test: ("10" if limit else None) for test, limit in ADAPTIVE_EXPECTATIONS.items()}
    problems = mismatches(run, flag_only)
    assert not problems, "\n".join(problems) + "\n" + run.describe()
