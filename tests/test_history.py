"""Timing history: recording runs, expected durations, the timings file and its merge."""

from __future__ import annotations

import importlib
import json
import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from concurrent_test_app import history
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.history import (
    class_of,
    git_revision,
    load_expected,
    merge_timings_files,
    read_timings_file,
    record_run,
    test_duration_p95,
    worker_memory_p90,
    write_timings_file,
)
from concurrent_test_app.history.averages import moving_average, percentile
from concurrent_test_app.history.store import newest_per_key
from concurrent_test_app.models import (
    OUTCOME_LETTERS,
    Case,
    CaseResult,
    Run,
    UnitTiming,
    WorkerStat,
    letter_outcomes,
    outcome_letters,
)
from concurrent_test_app.reports.records import (
    OUTCOMES,
    CaseRecord,
    RunReport,
    TemplateRecord,
    UnitRecord,
    WorkerRecord,
)
from tests import dbserver

START = 1_790_000_000.0  # a fixed moment, so runs sort the way they were made
SUMMARY_KEYS = {
    "passed": "passed",
    "failed": "failures",
    "error": "errors",
    "skipped": "skipped",
    "expected_failure": "expected_failures",
    "unexpected_success": "unexpected_successes",
    "not_run": "not_run",
}


def make_report(
    units: dict[str, float],
    *,
    outcomes: dict[str, str] | None = None,
    tests_per_unit: int = 2,
    setup: float = 0.1,
    started_at: float = START,
    workers: int = 2,
    exit_status: int = 0,
    memory_mb: Sequence[float] = (120.0, 140.0),
    shard: str | None = None,
) -> RunReport:
    """Return a run's report: ``units`` maps a unit key to its seconds (set-up included).

    Units go to workers in turn and run back to back; each unit's tests share what is left
    after its set-up. ``outcomes`` maps a test id to an outcome other than "passed".
    """
    outcomes = outcomes or {}
    tests: list[CaseRecord] = []
    unit_records: list[UnitRecord] = []
    lanes: dict[int, list[tuple[str, float, float]]] = {slot: [] for slot in range(1, workers + 1)}
    clock = dict.fromkeys(lanes, 0.0)
    for index, (key, seconds) in enumerate(units.items()):
        slot = index % workers + 1
        unit_records.append(UnitRecord(key, slot, seconds, setup))
        lanes[slot].append((key, clock[slot], clock[slot] + seconds))
        clock[slot] += seconds
        for number in range(tests_per_unit):
            test_id = f"{key}.test_{number}"
            outcome = outcomes.get(test_id, "passed")
            message = "" if outcome == "passed" else f"Traceback: {outcome}"
            duration = (seconds - setup) / tests_per_unit
            tests.append(CaseRecord(test_id, outcome, duration, slot, message, key))
    counts = dict.fromkeys(SUMMARY_KEYS.values(), 0)
    for record in tests:
        counts[SUMMARY_KEYS[record.outcome]] += 1
    wall = max(clock.values(), default=0.0) + 0.5
    summary = {
        "tests_run": sum(1 for t in tests if t.outcome != "not_run"),
        **counts,
        "wall_seconds": wall,
        "workers": workers,
        "successful": not (counts["failures"] or counts["errors"]),
    }
    return RunReport(
        summary=summary,
        tests=tests,
        workers=[
            WorkerRecord(
                slot=slot,
                database=f"test_db_{slot}",
                tests=sum(1 for t in tests if t.worker == slot),
                units=len(lanes[slot]),
                busy_seconds=clock[slot],
                memory_peak_mb=memory_mb[(slot - 1) % len(memory_mb)],
                timeline=lanes[slot],
            )
            for slot in lanes
        ],
        templates=[TemplateRecord("default", "tpl_abc", "abc123", True, 0.2)],
        units=unit_records,
        started_at=started_at,
        finished_at=started_at + wall,
        shard=shard,
        vendor="sqlite",
        exit_status=exit_status,
    )


def record_many(reports: Iterable[RunReport]) -> None:
    for report in reports:
        assert record_run(report) is True


def one_sentence(message: str) -> bool:
    return message.endswith(".") and "\n" not in message


# -- recording ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_record_run_stores_the_run_its_tests_units_and_workers() -> None:
    report = make_report(
        {"app.tests.A": 2.0, "app.tests.B": 1.0, "app.tests.C": 0.5},
        outcomes={"app.tests.B.test_1": "failed", "app.tests.C.test_0": "skipped"},
        exit_status=1,
        shard="2/3",
    )
    assert record_run(report) is True

    run = Run.objects.get()
    assert run.outcome == Run.Outcome.FAILED
    assert (run.tests_run, run.passed, run.failures, run.skipped) == (6, 4, 1, 1)
    assert run.shard == "2/3"
    assert run.vendor == "sqlite"
    assert run.template_fingerprint == "abc123"
    assert run.workers == 2
    assert run.finished_at > run.started_at
    assert run.started_at.timestamp() == pytest.approx(START)
    # The project's own checkout: the run knows its commit.
    assert re.fullmatch(r"[0-9a-f]{40}", run.git_commit)
    assert run.host

    assert CaseResult.objects.filter(run=run).count() == 6
    failed = CaseResult.objects.get(case__test_id="app.tests.B.test_1")
    assert (failed.outcome, failed.worker, failed.message) == ("failed", 2, "Traceback: failed")
    unit = UnitTiming.objects.get(run=run, key="app.tests.A")
    assert (unit.seconds, unit.setup_seconds, unit.tests, unit.worker) == (2.0, 0.1, 2, 1)
    workers = list(WorkerStat.objects.filter(run=run))
    assert [w.slot for w in workers] == [1, 2]
    assert workers[0].timeline == [["app.tests.A", 0.0, 2.0], ["app.tests.C", 2.0, 2.5]]
    assert workers[1].memory_peak_mb == 140.0

    case = Case.objects.get(test_id="app.tests.A.test_0")
    assert case.class_name == "app.tests.A"
    assert case.unit == "app.tests.A"
    assert case.latest_outcome == "passed"
    assert case.last_run == run


@pytest.mark.django_db
def test_a_second_run_reuses_the_tests_and_updates_their_latest_values() -> None:
    record_run(make_report({"app.tests.A": 1.0}))
    record_run(make_report({"app.tests.A": 3.0}, started_at=START + 60))
    assert Case.objects.count() == 2
    case = Case.objects.get(test_id="app.tests.A.test_0")
    assert case.latest_duration == pytest.approx(1.45)
    assert case.results.count() == 2
    assert case.last_run == Run.objects.order_by("-started_at").first()


@pytest.mark.parametrize(
    ("exit_status", "successful", "outcome"),
    [
        (0, True, "passed"),
        (1, False, "failed"),
        (3, False, "timed_out"),
        (130, False, "interrupted"),
        (143, True, "interrupted"),
    ],
)
def test_run_outcome(exit_status: int, successful: bool, outcome: str) -> None:
    report = make_report({"a.A": 1.0}, exit_status=exit_status)
    report.summary["successful"] = successful
    assert history.run_outcome(report) == outcome


@pytest.mark.django_db
def test_flaky_when_a_test_passed_and_failed_within_the_window() -> None:
    plan = ["passed", "passed", "failed", "passed"]
    for number, outcome in enumerate(plan):
        record_run(
            make_report(
                {"app.tests.A": 1.0},
                outcomes={"app.tests.A.test_0": outcome, "app.tests.A.test_1": "skipped"},
                started_at=START + number,
            )
        )
    assert Case.objects.get(test_id="app.tests.A.test_0").flaky is True
    # Skipped every time: nothing changed.
    assert Case.objects.get(test_id="app.tests.A.test_1").flaky is False

    # Once the failure is older than the window, the test is steady again.
    for number in range(history.FLAKY_WINDOW):
        record_run(make_report({"app.tests.A": 1.0}, started_at=START + 10 + number))
    assert Case.objects.get(test_id="app.tests.A.test_0").flaky is False


@pytest.mark.parametrize(
    ("outcomes", "flaky"),
    [
        (["passed", "passed"], False),
        (["failed", "error"], False),
        (["passed", "skipped", "not_run"], False),
        (["passed", "error"], True),
        (["expected_failure", "unexpected_success"], True),
    ],
)
def test_is_flaky(outcomes: list[str], flaky: bool) -> None:
    assert history.is_flaky(outcomes) is flaky


def test_every_outcome_has_a_letter_of_its_own() -> None:
    assert set(OUTCOME_LETTERS) == set(OUTCOMES)
    assert len(set(OUTCOME_LETTERS.values())) == len(OUTCOMES)
    newest_first = ["failed", *OUTCOMES, "passed", "passed", "passed", "passed"]
    letters = outcome_letters(newest_first)
    assert len(letters) == history.FLAKY_WINDOW
    assert letter_outcomes(letters) == newest_first[: history.FLAKY_WINDOW]
    # An outcome this app does not know stays neither passing nor failing.
    assert letter_outcomes(outcome_letters(["cancelled", "passed"])) == ["?", "passed"]


def window_outcomes() -> dict[str, list[str]]:
    """Return each test's outcomes in its last FLAKY_WINDOW runs, newest first, from its results.

    This is how a run flagged flaky tests before the cases kept their recent outcomes.
    """
    results = CaseResult.objects.all()
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    fields = ("case__test_id", "recency", "outcome")
    for test_id, recency, outcome in newest_per_key(
        results, "case_id", history.FLAKY_WINDOW, *fields
    ):
        ranked[test_id].append((recency, outcome))
    return {test_id: [outcome for _, outcome in sorted(rows)] for test_id, rows in ranked.items()}


def random_history(runs: int) -> Iterable[RunReport]:
    """Yield ``runs`` reports of tests with random outcomes; some tests sit out some runs."""
    rng = random.Random(7)
    weights = [12, 3, 2, 2, 1, 1, 1]  # mostly passing, every outcome now and then
    test_ids = [f"{unit}.test_{n}" for unit in ("a.A", "b.B", "c.C") for n in range(3)]
    for number in range(runs):
        # b.B runs every other time and c.C now and then: their windows span different runs.
        units = {"a.A": 1.0, **({"b.B": 1.0} if number % 2 else {}), "c.C": 1.0}
        if rng.random() < 0.4:
            del units["c.C"]
        outcomes = {test_id: rng.choices(OUTCOMES, weights)[0] for test_id in test_ids}
        report = make_report(units, outcomes=outcomes, tests_per_unit=3, started_at=START + number)
        # A class fixture's pseudo-test has a history of its own.
        fixture = rng.choices(["passed", "error", "skipped"], [6, 2, 2])[0]
        report.tests.append(CaseRecord("setUpClass (a.A)", fixture, 0.0, 1, "", "a.A"))
        yield report


@pytest.mark.django_db
def test_flaky_is_what_the_window_over_the_results_says_after_every_run() -> None:
    flags_seen = set()
    for report in random_history(30):
        assert record_run(report) is True
        window = window_outcomes()
        cases = list(Case.objects.all())
        assert {case.test_id: letter_outcomes(case.recent_outcomes) for case in cases} == window
        assert {case.test_id: case.flaky for case in cases} == {
            test_id: history.is_flaky(outcomes) for test_id, outcomes in window.items()
        }
        flags_seen.update(case.flaky for case in cases)
    assert flags_seen == {True, False}


@pytest.mark.django_db
def test_a_failure_keeps_a_test_flaky_until_it_leaves_the_window() -> None:
    def run(number: int, outcome: str) -> Case:
        outcomes = {"a.A.test_0": outcome}
        assert record_run(make_report({"a.A": 1.0}, outcomes=outcomes, started_at=START + number))
        return Case.objects.get(test_id="a.A.test_0")

    assert run(0, "failed").flaky is False  # failing alone is not flaky
    for number in range(1, history.FLAKY_WINDOW):
        case = run(number, "passed")
        assert case.flaky is True
    # The failure is still the oldest of the window's runs...
    assert case.recent_outcomes == "p" * (history.FLAKY_WINDOW - 1) + "f"
    # ...and one run later it has left it.
    case = run(history.FLAKY_WINDOW, "passed")
    assert (case.flaky, case.recent_outcomes) == (False, "p" * history.FLAKY_WINDOW)


@pytest.mark.django_db
def test_recording_a_run_reads_nothing_from_the_results() -> None:
    record_many(random_history(12))
    report = make_report({"a.A": 1.0, "b.B": 1.0}, started_at=START + 100)
    with CaptureQueriesContext(connection) as captured:
        assert record_run(report) is True
    table = CaseResult._meta.db_table
    on_results = [query["sql"] for query in captured.captured_queries if table in query["sql"]]
    # executemany is logged as "N times: INSERT ...".
    assert [re.sub(r"^\d+ times: ", "", sql).split()[:2] for sql in on_results] == [
        ["INSERT", "INTO"]
    ]


@pytest.mark.django_db
def test_the_migration_fills_recent_outcomes_as_the_window_over_the_results_says() -> None:
    record_many(random_history(25))
    recorded = dict(Case.objects.values_list("test_id", "recent_outcomes"))
    flags = dict(Case.objects.values_list("test_id", "flaky"))
    # A history recorded before the cases kept their outcomes.
    Case.objects.update(recent_outcomes="")
    migration = importlib.import_module("concurrent_test_app.migrations.0002_case_recent_outcomes")
    migration.fill_recent_outcomes(apps, SimpleNamespace(connection=connection))

    filled = dict(Case.objects.values_list("test_id", "recent_outcomes"))
    assert filled == recorded
    window = window_outcomes()
    assert {test_id: letter_outcomes(letters) for test_id, letters in filled.items()} == window
    assert {
        test_id: history.is_flaky(letter_outcomes(letters)) for test_id, letters in filled.items()
    } == flags


@pytest.mark.django_db
def test_a_requeued_unit_adds_up_and_never_counts_less_than_its_tests() -> None:
    report = make_report({"app.tests.A": 2.0})
    # The worker died under the unit: its rest ran elsewhere, a second record of the same key.
    report.units.append(UnitRecord("app.tests.A", 2, 1.0, 0.0))
    # A runner that counted set-up apart from the unit's seconds still gets the sum.
    report.units.append(UnitRecord("app.tests.B", 1, 0.2, 0.5))
    report.tests.append(CaseRecord("app.tests.B.test_0", "passed", 0.3, 1, "", "app.tests.B"))
    totals = history.unit_totals(report)
    assert totals["app.tests.A"]["seconds"] == pytest.approx(3.0)
    assert totals["app.tests.B"]["seconds"] == pytest.approx(0.8)
    record_run(report)
    assert UnitTiming.objects.get(key="app.tests.A").seconds == pytest.approx(3.0)


@pytest.mark.django_db
def test_missing_tables_warn_once_and_record_nothing(caplog: pytest.LogCaptureFixture) -> None:
    history.store._warned_missing.clear()
    with connection.cursor() as cursor:
        # SQLite's DDL is transactional: the test's rollback brings the table back.
        cursor.execute(f"DROP TABLE {WorkerStat._meta.db_table}")
    with caplog.at_level(logging.WARNING, logger="concurrent_test_app.history"):
        assert record_run(make_report({"a.A": 1.0})) is False
        assert record_run(make_report({"a.A": 1.0})) is False
    warnings = [r.getMessage() for r in caplog.records if "migrate" in r.getMessage()]
    assert len(warnings) == 1
    assert "run `manage.py migrate` to enable timing history" in warnings[0]
    assert load_expected(["a.A"]) == {}
    assert worker_memory_p90() is None
    assert test_duration_p95(["a.A.test_0"]) == {}


@pytest.mark.django_db
def test_an_unknown_history_alias_is_named() -> None:
    with override_settings(CONCURRENT_TEST_HISTORY_DATABASE="history"):
        with pytest.raises(ConfigurationError) as caught:
            load_expected(["a.A"])
        assert record_run(make_report({"a.A": 1.0})) is False
    message = str(caught.value)
    assert "CONCURRENT_TEST_HISTORY_DATABASE" in message and "'default'" in message
    assert one_sentence(message)


@pytest.mark.django_db
@override_settings(USE_TZ=False)
def test_records_naive_local_times_when_use_tz_is_off() -> None:
    assert record_run(make_report({"a.A": 1.0})) is True
    run = Run.objects.get()
    assert run.started_at.tzinfo is None
    assert run.started_at.timestamp() == pytest.approx(START)


def test_git_revision_without_a_repository_or_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit, branch = git_revision()
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_revision() == ("", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_revision() == ("", "")


@pytest.mark.parametrize(
    ("test_id", "expected"),
    [
        ("app.tests.A.test_x", "app.tests.A"),
        ("app.tests.A.test_x (i=1)", "app.tests.A"),
        ("app.tests.A.test_x [label] (i=1)", "app.tests.A"),
        ("setUpClass (app.tests.A)", "app.tests.A"),
        ("tearDownModule (app.tests)", "app.tests"),
        ("unittest.loader._FailedTest.app.tests", "unittest.loader._FailedTest.app"),
    ],
)
def test_class_of(test_id: str, expected: str) -> None:
    assert class_of(test_id) == expected


# -- expected durations ------------------------------------------------------------------------


@pytest.mark.django_db
def test_expected_is_a_moving_average_that_favours_recent_runs() -> None:
    for number, seconds in enumerate([1.0, 1.0, 4.0]):
        record_run(
            make_report({"app.tests.A": seconds, "app.tests.B": 2.0}, started_at=START + number)
        )
    expected = load_expected(["app.tests.A", "app.tests.B", "app.tests.New"])
    # Newest weighs half: 0.5 * 4 + 0.25 * 1 + 0.25 * 1; the plain mean would be 2.0.
    assert expected == {"app.tests.A": pytest.approx(2.5), "app.tests.B": pytest.approx(2.0)}


@pytest.mark.django_db
def test_expected_looks_only_at_recent_runs() -> None:
    record_run(make_report({"app.tests.A": 100.0}))
    for number in range(history.HISTORY_WINDOW):
        record_run(make_report({"app.tests.A": 1.0}, started_at=START + 1 + number))
    assert load_expected(["app.tests.A"]) == {"app.tests.A": pytest.approx(1.0)}


def whole_history_reads(
    unit_keys: Sequence[str], test_ids: Sequence[str]
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float]]:
    """Return the expected, set-up, test average and p95 seconds of one window over all runs."""
    window = history.HISTORY_WINDOW
    timings: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for key, recency, seconds, setup in newest_per_key(
        UnitTiming.objects.filter(key__in=unit_keys),
        "key",
        window,
        *("key", "recency", "seconds", "setup_seconds"),
    ):
        timings[key].append((recency, seconds, setup))
    durations: dict[str, list[tuple[int, float]]] = defaultdict(list)
    timed = CaseResult.objects.filter(
        case__test_id__in=test_ids,
        outcome__in=["passed", "failed", "expected_failure", "unexpected_success"],
    )
    for test_id, recency, duration in newest_per_key(
        timed, "case_id", window, "case__test_id", "recency", "duration"
    ):
        durations[test_id].append((recency, duration))
    expected = {
        key: moving_average([s for _, s, _ in sorted(rows)]) for key, rows in timings.items()
    }
    setup = {key: moving_average([s for _, _, s in sorted(rows)]) for key, rows in timings.items()}
    tests = {
        test_id: moving_average([d for _, d in sorted(rows)]) for test_id, rows in durations.items()
    }
    p95 = {test_id: percentile([d for _, d in rows], 0.95) for test_id, rows in durations.items()}
    return expected, setup, tests, p95


@pytest.mark.django_db
def test_start_up_reads_give_what_the_whole_history_gives() -> None:
    # a.A runs every time, b.B in one run of four (a shard), old.O only in the first runs.
    rng = random.Random(3)
    for number in range(60):
        units = {"a.A": rng.uniform(1, 9)}
        if number % 4 == 0:
            units["b.B"] = rng.uniform(1, 9)
        if number < 12:
            units["old.O"] = rng.uniform(1, 9)
        outcomes = {"a.A.test_1": "failed"} if number % 3 else {"a.A.test_1": "error"}
        report = make_report(
            units, outcomes=outcomes, setup=rng.uniform(0, 1), started_at=START + number
        )
        assert record_run(report) is True
    keys = ["a.A", "b.B", "old.O", "new.N"]
    ids = [f"{key}.test_{n}" for key in keys for n in range(2)]

    expected, setup, tests, p95 = whole_history_reads(keys, ids)
    assert load_expected(keys) == expected
    assert set(expected) == {"a.A", "b.B", "old.O"}
    costs = history.load_split_costs(keys, ids)
    assert (costs.setup, costs.tests) == (setup, tests)
    assert test_duration_p95(ids) == p95
    assert set(p95) == {f"{key}.test_{n}" for key in ("a.A", "b.B", "old.O") for n in range(2)}


@pytest.mark.django_db
def test_a_steady_history_is_read_from_its_last_runs_only() -> None:
    record_many(make_report({"a.A": 1.0}, started_at=START + number) for number in range(30))
    with CaptureQueriesContext(connection) as captured:
        load_expected(["a.A"])
    reads = [
        query["sql"]
        for query in captured.captured_queries
        if UnitTiming._meta.db_table in query["sql"]
    ]
    assert len(reads) == 1
    oldest = Run.objects.order_by("-id").values_list("pk", flat=True)[history.HISTORY_WINDOW - 1]
    assert f'run_id" >= {oldest}' in reads[0]


@pytest.mark.django_db
def test_reads_look_at_the_last_10_40_and_160_runs_before_the_whole_history() -> None:
    def floors_after(runs: int) -> list[int | None]:
        moment = timezone.now()
        made = Run.objects.count()
        Run.objects.bulk_create(
            Run(started_at=moment, finished_at=moment, outcome="passed") for _ in range(runs - made)
        )
        newest = list(Run.objects.order_by("-id").values_list("pk", flat=True))
        floors = history.store._run_floors("default", history.HISTORY_WINDOW)
        # Each floor as "the n-th newest run".
        return [None if floor is None else newest.index(floor) + 1 for floor in floors]

    assert floors_after(0) == [None]
    assert floors_after(10) == [None]  # the last 10 runs are the whole history
    assert floors_after(11) == [10, None]
    assert floors_after(41) == [10, 40, None]
    assert floors_after(160) == [10, 40, None]
    assert floors_after(161) == [10, 40, 160, None]


@pytest.mark.django_db
def test_expected_fills_units_the_database_never_saw_from_the_timings_file(
    tmp_path: Path,
) -> None:
    record_run(make_report({"app.tests.A": 2.0}))
    timings = tmp_path / "timings.json"
    timings.write_text(
        json.dumps({"version": 1, "units": {"app.tests.A": 9.0, "app.tests.B": 3.0}})
    )
    expected = load_expected(["app.tests.A", "app.tests.B", "app.tests.C"], timings_file=timings)
    assert expected == {"app.tests.A": 2.0, "app.tests.B": 3.0}


def test_expected_from_the_timings_file_alone(tmp_path: Path) -> None:
    timings = tmp_path / "timings.json"
    write_timings_file(make_report({"a.A": 2.0, "b.B": 1.0}), timings)
    assert history.expected_from_timings_file(["a.A", "c.C"], timings) == {"a.A": 2.0}


@pytest.mark.django_db
def test_expected_without_any_history_is_empty(tmp_path: Path) -> None:
    assert load_expected(["a.A"]) == {}
    assert load_expected(["a.A"], timings_file=tmp_path / "not-yet.json") == {}
    assert load_expected([]) == {}


@pytest.mark.django_db
def test_worker_memory_p90_and_test_duration_p95() -> None:
    assert worker_memory_p90() is None
    peaks = [(100.0, 110.0), (120.0, 130.0), (140.0, 150.0), (160.0, 170.0), (180.0, 900.0)]
    for number, memory in enumerate(peaks):
        outcomes = {"a.A.test_1": "error"} if number == 4 else {}
        record_run(
            make_report(
                {"a.A": 1.0 + number, "b.B": 0.5},
                memory_mb=memory,
                started_at=START + number,
                outcomes=outcomes,
            )
        )
    # Nearest rank over ten peaks: the ninth smallest.
    assert worker_memory_p90() == 180.0
    p95 = test_duration_p95(["a.A.test_0", "a.A.test_1", "b.B.test_0", "nobody.test"])
    assert p95["a.A.test_0"] == pytest.approx((5.0 - 0.1) / 2)
    # The erroring run (a timeout, say) says nothing about the usual duration.
    assert p95["a.A.test_1"] == pytest.approx((4.0 - 0.1) / 2)
    assert p95["b.B.test_0"] == pytest.approx(0.2)
    assert "nobody.test" not in p95


# -- the timings file --------------------------------------------------------------------------


def test_timings_file_round_trip_keeps_units_not_run(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "timings.json"
    write_timings_file(make_report({"a.A": 2.0, "b.B": 1.0}, started_at=START), path)
    write_timings_file(make_report({"a.A": 4.0}, started_at=START + 100), path)
    units = read_timings_file(path)["units"]
    assert units["a.A"]["seconds"] == pytest.approx(3.0)
    assert units["a.A"]["runs"] == 2
    assert units["a.A"]["setup_seconds"] == pytest.approx(0.1)
    assert units["b.B"] == {
        "seconds": 1.0,
        "setup_seconds": 0.1,
        "runs": 1,
        "updated_at": pytest.approx(START + 2.5),
    }
    assert units["a.A"]["updated_at"] > units["b.B"]["updated_at"]
    assert list(tmp_path.joinpath("ci").iterdir()) == [path]


def test_missing_timings_file_is_empty_history(tmp_path: Path) -> None:
    assert read_timings_file(tmp_path / "absent.json") == {"version": 1, "units": {}}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "cannot be read as JSON"),
        ("[1, 2]", "is not a timings file"),
        ('{"units": {"a.A": -1}}', "no valid number"),
        ('{"units": {"a.A": {"seconds": "slow"}}}', "no valid number"),
        ('{"version": 99, "units": {}}', "newer than this app reads"),
    ],
)
def test_bad_timings_file_is_a_configuration_error(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "timings.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as caught:
        read_timings_file(path)
    message = str(caught.value)
    assert fragment in message
    assert "--timings-file or settings.TEST_TIMINGS_FILE" in message
    assert one_sentence(message)


def test_a_directory_is_not_a_timings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        read_timings_file(tmp_path)


def test_writing_over_a_broken_timings_file_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "timings.json"
    path.write_text("{broken")
    write_timings_file(make_report({"a.A": 2.0}), path)
    assert read_timings_file(path)["units"]["a.A"]["seconds"] == 2.0


def test_merge_takes_each_units_newest_entry(tmp_path: Path) -> None:
    # Both shards started from the same file and each updated the units it ran.
    base = tmp_path / "base.json"
    write_timings_file(make_report({"a.A": 1.0, "b.B": 1.0, "c.C": 1.0}), base)
    shard1, shard2 = tmp_path / "shard1.json", tmp_path / "shard2.json"
    shard1.write_bytes(base.read_bytes())
    shard2.write_bytes(base.read_bytes())
    write_timings_file(make_report({"a.A": 3.0}, started_at=START + 100), shard1)
    write_timings_file(make_report({"b.B": 5.0}, started_at=START + 100), shard2)

    out = tmp_path / "merged.json"
    merged = merge_timings_files([shard1, shard2], out)

    units = read_timings_file(out)["units"]
    assert merged["units"] == units
    assert {key: entry["seconds"] for key, entry in units.items()} == {
        "a.A": 2.0,
        "b.B": 3.0,
        "c.C": 1.0,
    }


def test_merge_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        merge_timings_files([tmp_path / "absent.json"], tmp_path / "out.json")


def test_merge_command(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    write_timings_file(make_report({"a.A": 1.0}), one)
    write_timings_file(make_report({"b.B": 2.0}), two)
    out = tmp_path / "all.json"
    stdout = StringIO()
    call_command("merge_test_timings", str(one), str(two), "--output", str(out), stdout=stdout)
    assert "Merged 2 timings files (2 units)" in stdout.getvalue()
    assert set(read_timings_file(out)["units"]) == {"a.A", "b.B"}


def test_merge_command_errors_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    with pytest.raises(CommandError) as caught:
        call_command("merge_test_timings", str(bad), "-o", str(tmp_path / "out.json"))
    assert caught.value.returncode == 2
    assert "merge_test_timings" in str(caught.value)
    with pytest.raises(CommandError, match="--output PATH or set settings.TEST_TIMINGS_FILE"):
        call_command("merge_test_timings", str(bad))


def test_merge_command_writes_to_the_setting_by_default(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    write_timings_file(make_report({"a.A": 1.0}), one)
    target = tmp_path / "settings-timings.json"
    with override_settings(TEST_TIMINGS_FILE=str(target)):
        call_command("merge_test_timings", str(one), verbosity=0)
    assert set(read_timings_file(target)["units"]) == {"a.A"}


# -- on every vendor, in a real project ----------------------------------------------------------

SKEWED = Path(__file__).resolve().parent / "fixture_suites" / "skewed"

PROBE = """
import json, os, pickle
from concurrent_test_app import history
reports = pickle.load(open(os.environ["HISTORY_PROBE_REPORTS"], "rb"))
recorded = [history.record_run(report) for report in reports]
from concurrent_test_app.models import Case
tables = history.history_tables_exist("default")
print(json.dumps({
    "tables": tables,
    "recorded": recorded,
    "expected": history.load_expected(["a.A", "b.B", "c.C"]),
    "p90": history.worker_memory_p90(),
    "p95": history.test_duration_p95(["a.A.test_0", "b.B.test_1"]),
    "flaky": sorted(Case.objects.filter(flaky=True).values_list("test_id", flat=True))
    if tables else [],
}))
"""
RECENT_OUTCOMES = """
import json
from concurrent_test_app.models import Case
print(json.dumps(dict(Case.objects.values_list("test_id", "recent_outcomes"))))
"""


def create_database(vendor: str, name: str) -> None:
    if vendor != "sqlite":
        dbserver.create_database(vendor, name)


def drop_database(vendor: str, name: str) -> None:
    if vendor != "sqlite":
        dbserver.drop_database(vendor, name)


def test_history_on_a_real_database(vendor: str, tmp_path: Path) -> None:
    import pickle
    import uuid

    from tests.conftest import database_url, run_manage

    name = f"hist5_{uuid.uuid4().hex[:10]}"
    if vendor == "sqlite":
        name = str(tmp_path / f"{name}.sqlite3")
    env = {
        "DJANGO_SETTINGS_MODULE": "skewed_project.settings",
        "DATABASE_URL": database_url(vendor, name),
    }
    reports = tmp_path / "reports.pickle"
    runs = [
        make_report({"a.A": 1.0, "b.B": 2.0}, started_at=START, memory_mb=(100.0, 200.0)),
        make_report(
            {"a.A": 3.0, "b.B": 2.0},
            started_at=START + 10,
            outcomes={"b.B.test_1": "failed"},
            exit_status=1,
        ),
    ]
    reports.write_bytes(pickle.dumps(runs))

    env["HISTORY_PROBE_REPORTS"] = str(reports)

    def probe(script: str = PROBE) -> dict[str, object]:
        completed = run_manage(SKEWED, "shell", "--no-imports", "-c", script, env=env, timeout=120)
        assert completed.returncode == 0, completed.stderr
        return {**json.loads(completed.stdout.splitlines()[-1]), "stderr": completed.stderr}

    def recent_outcomes() -> dict[str, object]:
        found = probe(RECENT_OUTCOMES)
        del found["stderr"]
        return found

    def migrate(*target: str) -> None:
        migrated = run_manage(SKEWED, "migrate", *target, "-v", "0", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr

    try:
        # No database at all: no history, no crash, and no database file made up.
        absent = probe()
        assert absent["recorded"] == [False, False]
        assert (absent["expected"], absent["p90"], absent["p95"]) == ({}, None, {})
        assert "run `manage.py migrate` to enable timing history" in str(absent["stderr"])
        if vendor == "sqlite":
            assert not Path(name).exists()
        else:
            create_database(vendor, name)
            unmigrated = probe()
            assert unmigrated["recorded"] == [False, False]
            assert unmigrated["expected"] == {}

        migrate()
        result = probe()
        assert result["tables"] is True
        assert result["recorded"] == [True, True]
        assert result["expected"] == {"a.A": pytest.approx(2.0), "b.B": pytest.approx(2.0)}
        assert result["p90"] == pytest.approx(200.0)
        assert result["p95"] == {"a.A.test_0": pytest.approx(1.45), "b.B.test_1": 0.95}
        assert result["flaky"] == ["b.B.test_1"]
        recent = {"a.A.test_0": "pp", "a.A.test_1": "pp", "b.B.test_0": "pp", "b.B.test_1": "fp"}
        assert recent_outcomes() == recent

        # The history of a project that recorded runs before the cases kept their outcomes.
        migrate("concurrent_test_app", "0001")
        migrate()
        assert recent_outcomes() == recent

        # Ten more runs of a.A alone: its reads come from the last ten runs, b.B's from all.
        more = tmp_path / "more.pickle"
        steady = [make_report({"a.A": 4.0}, started_at=START + 20 + n) for n in range(10)]
        more.write_bytes(pickle.dumps(steady))
        env["HISTORY_PROBE_REPORTS"] = str(more)
        later = probe()
        assert later["recorded"] == [True] * 10
        assert later["expected"] == {"a.A": pytest.approx(4.0), "b.B": pytest.approx(2.0)}
        assert later["p95"] == {"a.A.test_0": pytest.approx(1.95), "b.B.test_1": 0.95}
        assert later["flaky"] == ["b.B.test_1"]
        assert recent_outcomes() == {**recent, "a.A.test_0": "p" * 10, "a.A.test_1": "p" * 10}
    finally:
        drop_database(vendor, name)


MANY = """
import json, os, pickle
from concurrent_test_app import history
from concurrent_test_app.models import Case, CaseResult
reports = pickle.load(open(os.environ["HISTORY_PROBE_REPORTS"], "rb"))
recorded = [history.record_run(report) for report in reports]
cases = {
    test_id: [recent, round(duration, 6), outcome, last_run is not None]
    for test_id, recent, duration, outcome, last_run in Case.objects.values_list(
        "test_id", "recent_outcomes", "latest_duration", "latest_outcome", "last_run"
    )
}
print(json.dumps({"recorded": recorded, "cases": cases, "results": CaseResult.objects.count()}))
"""


def test_a_run_of_hundreds_of_tests_is_recorded_whole_on_every_vendor(
    vendor: str, tmp_path: Path
) -> None:
    # 270 tests: more than one batch of every statement on every vendor (SQLite's limit of
    # 999 parameters gives the smallest), so each batch's rows must land on their own cases.
    import pickle
    import uuid

    from tests.conftest import database_url, run_manage

    name = f"hist6_{uuid.uuid4().hex[:10]}"
    if vendor == "sqlite":
        name = str(tmp_path / f"{name}.sqlite3")
    env = {
        "DJANGO_SETTINGS_MODULE": "skewed_project.settings",
        "DATABASE_URL": database_url(vendor, name),
    }
    units = {"a.A": 9.1, "b.B": 18.1, "c.C": 27.1}
    failing = {f"b.B.test_{n}": "failed" for n in range(0, 90, 7)}
    runs = [
        make_report(units, tests_per_unit=90, started_at=START),
        make_report(units, tests_per_unit=90, started_at=START + 60, outcomes=failing),
    ]
    reports = tmp_path / "reports.pickle"
    reports.write_bytes(pickle.dumps(runs))
    env["HISTORY_PROBE_REPORTS"] = str(reports)
    create_database(vendor, name)
    try:
        migrated = run_manage(SKEWED, "migrate", "-v", "0", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        completed = run_manage(SKEWED, "shell", "--no-imports", "-c", MANY, env=env, timeout=120)
        assert completed.returncode == 0, completed.stderr
        found = json.loads(completed.stdout.splitlines()[-1])
    finally:
        drop_database(vendor, name)

    assert found["recorded"] == [True, True]
    assert found["results"] == 2 * 270
    expected = {}
    for key, seconds in units.items():
        for number in range(90):
            test_id = f"{key}.test_{number}"
            outcome = failing.get(test_id, "passed")
            duration = round((seconds - 0.1) / 90, 6)
            expected[test_id] = [outcome[0] + "p", duration, outcome, True]
    assert found["cases"] == expected
