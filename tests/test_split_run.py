"""A split class's verdict is serial's: real ``concurrent_test`` runs on the split fixture suite.

A timings file (hand-written, so no run depends on how fast this machine is) says that
``BigTests`` holds almost all of the run's work; the run cuts it into two pieces, one per
worker. The same labels run under Django's serial runner (the fidelity suite's recording
runner) give the reference, compared id for id with ``tests.test_fidelity.mismatches``. A worker
that dies in a class fixture of every piece is compared with serial's run of the same fixture
raising: one error under serial's pseudo-id either way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_manage
from tests.test_fidelity import SuiteRun, final_lines, mismatches, report

SPLIT = ROOT / "tests" / "fixture_suites" / "split"
BIG = "pieces.tests.test_big.BigTests"
SMALL = "pieces.tests.test_small.SmallTests"
RECORDING_RUNNER = "--testrunner=fidelity_project.serial_runner.RecordingRunner"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        # pytest-django exported the pytest suite's settings; the fixture project has its own.
        "DJANGO_SETTINGS_MODULE": "split_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'split.sqlite3'}",
        **extra,
    }


def timings_file(tmp_path: Path, heavy: str) -> Path:
    """Write a timings file in which ``heavy`` is 20 times the rest of the run."""
    path = tmp_path / "timings.json"
    units = {heavy: {"seconds": 10.0, "setup_seconds": 0.05}, SMALL: {"seconds": 0.5}}
    path.write_text(json.dumps({"version": 1, "units": units}))
    return path


def suite_run(args: tuple[str, ...], env: dict[str, str], record: Path) -> SuiteRun:
    process = run_manage(SPLIT, *args, env=env, timeout=300)
    ran, verdict = final_lines(process.stderr)
    run = SuiteRun(
        " ".join(args), process.returncode, process.stdout + process.stderr, ran, verdict
    )
    if record.exists():
        data = json.loads(record.read_text())
        run.summary, run.tests = data.get("summary", {}), data.get("tests", [])
    return run


def run_serial(env: dict[str, str], tmp_path: Path, *labels: str) -> SuiteRun:
    record = tmp_path / "serial.json"
    args = ("test", "--noinput", RECORDING_RUNNER, "--record", str(record), *labels)
    return suite_run(args, env, record)


def run_split(env: dict[str, str], tmp_path: Path, heavy: str, *labels: str) -> SuiteRun:
    """Run ``labels`` on two workers, the timings file saying ``heavy`` bounds the run."""
    record = tmp_path / "concurrent.json"
    args = (
        "concurrent_test",
        "--noinput",
        "--workers",
        "2",
        "--no-progress",
        "--no-history",
        "--timings-file",
        str(timings_file(tmp_path, heavy)),
        "--json-report",
        str(record),
        *labels,
    )
    return suite_run(args, env, record)


def serial_and_split(
    tmp_path: Path, heavy: str, env: dict[str, str], split_env: dict[str, str] | None = None
) -> tuple[SuiteRun, SuiteRun]:
    """Run ``heavy`` and SmallTests serially, then split (in ``split_env`` when given)."""
    serial = run_serial(env, tmp_path, heavy, SMALL)
    return serial, run_split(split_env or env, tmp_path, heavy, heavy, SMALL)


def assert_serial_verdict(
    serial: SuiteRun, concurrent: SuiteRun, *, passing_over: str = ""
) -> None:
    """Fail, showing both runs, unless the concurrent verdict is serial's, id for id.

    ``passing_over`` starts the mismatches that are expected (and checked by the caller).
    """
    problems = [
        problem
        for problem in mismatches(serial, concurrent)
        if not (passing_over and problem.startswith(passing_over))
    ]
    assert not problems, report(problems, serial, concurrent)


def pieces_of(run: SuiteRun, tmp_path: Path, key: str) -> tuple[list[str], int]:
    """Return the report's split classes and how many unit records ``key`` has."""
    data: dict[str, Any] = json.loads((tmp_path / "concurrent.json").read_text())
    return data["split_units"], sum(1 for unit in data["units"] if unit["key"] == key)


@pytest.mark.parametrize("failing", ["", "setUpClass", "tearDownClass"])
def test_a_split_class_gives_the_serial_verdict(tmp_path: Path, failing: str) -> None:
    serial, concurrent = serial_and_split(tmp_path, BIG, environment(tmp_path, SPLIT_FAIL=failing))

    assert pieces_of(concurrent, tmp_path, BIG) == ([BIG], 2), concurrent.describe()
    assert_serial_verdict(serial, concurrent)
    if failing:
        # Both pieces ran the fixture and it failed in both: one error, as serial reports it.
        name = f"{failing} ({BIG})"
        assert concurrent.output.count(f"ERROR: {name}") == 1, concurrent.describe()
        assert concurrent.outcomes[name] == "error"


@pytest.mark.parametrize("place", ["setUpClass", "tearDownClass"])
def test_a_worker_lost_in_a_class_fixture_of_every_piece_is_one_error(
    tmp_path: Path, place: str
) -> None:
    # Serial has no worker to lose: its reference is the same fixture raising instead.
    serial, concurrent = serial_and_split(
        tmp_path,
        BIG,
        environment(tmp_path, SPLIT_FAIL=place),
        split_env=environment(tmp_path, SPLIT_EXIT=place),
    )

    # A piece whose worker died records no unit: only the split itself is checked.
    assert pieces_of(concurrent, tmp_path, BIG)[0] == [BIG], concurrent.describe()
    name = f"{place} ({BIG})"
    # The message names the death, not serial's exception.
    assert_serial_verdict(serial, concurrent, passing_over=f"{name}: traceback lacks")
    assert concurrent.output.count(f"ERROR: {name}") == 1, concurrent.describe()
    assert re.search(r"died with exit code 3\b", concurrent.messages[name]), concurrent.describe()


def test_the_subtests_skips_and_expected_failure_of_a_split_class_are_kept(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path)
    concurrent = run_split(env, tmp_path, BIG, BIG, SMALL)
    assert pieces_of(concurrent, tmp_path, BIG) == ([BIG], 2)
    outcomes = concurrent.outcomes
    assert outcomes[f"{BIG}.test_f_subtests (i=1)"] == "failed"
    assert outcomes[f"{BIG}.test_d_skipped"] == outcomes[f"{BIG}.test_h_skips_itself"] == "skipped"
    assert outcomes[f"{BIG}.test_e_expected_failure"] == "expected_failure"
    assert concurrent.verdict == (
        "FAILED (failures=2, errors=1, skipped=2, expected failures=1)"
    ), concurrent.describe()
    # The two pieces ran on both workers' shares: every test exactly once.
    assert concurrent.summary["tests_run"] == 10


@pytest.mark.parametrize(
    "heavy",
    [
        "pieces.tests.test_whole.DecoratedTests",
        "pieces.tests.test_whole.AttributeTests",
        "pieces.tests.test_whole.FlushingTests",
    ],
)
def test_opted_out_and_transaction_test_cases_are_never_split(tmp_path: Path, heavy: str) -> None:
    serial, concurrent = serial_and_split(tmp_path, heavy, environment(tmp_path))

    assert pieces_of(concurrent, tmp_path, heavy) == ([], 1), concurrent.describe()
    assert_serial_verdict(serial, concurrent)


def test_the_setting_turns_splitting_off(tmp_path: Path) -> None:
    serial, concurrent = serial_and_split(tmp_path, BIG, environment(tmp_path, SPLIT="off"))

    assert pieces_of(concurrent, tmp_path, BIG) == ([], 1), concurrent.describe()
    assert_serial_verdict(serial, concurrent)


def test_a_bad_setting_is_one_sentence_and_exit_status_2(tmp_path: Path) -> None:
    env = environment(tmp_path, SPLIT="bad")
    concurrent = run_split(env, tmp_path, BIG, BIG, SMALL)

    assert concurrent.returncode == 2, concurrent.describe()
    assert "settings.CONCURRENT_TEST_SPLIT_CLASSES is 'yes'; set it to True or False." in (
        concurrent.output
    )
    assert "Traceback" not in concurrent.output
