"""Verdict fidelity: ``concurrent_test --workers 2`` against Django's serial runner, test for test.

The fixture project ``tests/fixture_suites/fidelity`` holds every case of issue 3's "Verdict
fidelity" list. Each check runs it twice on the same vendor: with ``manage.py test`` and a small
recording runner that lives in the fixture project (it imports nothing from the app, so the
reference is independent), and with ``manage.py concurrent_test --workers 2 --json-report``.
Then every test id must have the same outcome, the summary counts must equal the lengths of the
serial result's lists, and the final ``Ran N tests`` / ``OK`` or ``FAILED (...)`` lines must be
the same (apart from the time).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import dbserver
from tests.conftest import ROOT, SERVERS, _reachable, database_url, run_manage

FIXTURE_DIR = ROOT / "tests" / "fixture_suites" / "fidelity"
RECORDING_RUNNER = "--testrunner=fidelity_project.serial_runner.RecordingRunner"

# Unique to this pytest session, so that two sessions on one server never share a database;
# kept short because the app shortens long names, and the token must survive that.
TOKEN = f"fid{secrets.token_hex(2)}"

OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "expected_failure",
    "unexpected_success",
    "not_run",
)
SUMMARY_KEYS = (
    "tests_run",
    "passed",
    "failures",
    "errors",
    "skipped",
    "expected_failures",
    "unexpected_successes",
    "not_run",
)

# The modules with setUpModule whose classes serial Django runs in two stretches, because
# their types differ (test_module_errors: a SimpleTestCase and a TestCase, its setUpModule
# error reported twice; test_module_mixed_types: a TestCase and a TransactionTestCase). Only
# the "all" run and test_module_unit_keeps_transaction_tests_last hold them, so that a
# mismatch there stays one clear failure instead of failing every variant.
MIXED_MODULE = ("--exclude-tag", "fidelity_mixed_module")

# Django's test options that change which tests run, their order or the result class, each
# compared on its own.
VARIANTS: dict[str, tuple[str, ...]] = {
    "all": (),
    "keyword": ("-k", "Error", "-k", "SubTest", *MIXED_MODULE),
    "tags": ("--tag", "fidelity_slow", "--exclude-tag", "fidelity_fast"),
    # A label that does not import is an import-error test, as in serial.
    "labels": (
        "library.tests.test_class_errors",
        "library.tests.test_import_fails",
        "library.tests.test_missing_module",
        "library.tests.test_outcomes.SubTestTests.test_subtests_fail_and_error",
        "ledger",
        *MIXED_MODULE,
    ),
    "reverse": ("--reverse", *MIXED_MODULE),
    "buffer": ("--buffer", *MIXED_MODULE),
    "debug_sql": ("--debug-sql", *MIXED_MODULE),
    # Django's shuffle keeps a class's tests together but not a module's classes, so a shuffled
    # serial run sets a module up once per stretch of its classes, and which worker runs which
    # stretch decides what a module-level counter says. Module-fixture classes are left out.
    "shuffle": ("--shuffle", "1234", "--exclude-tag", "fidelity_module", *MIXED_MODULE),
}
# The comparisons of runner options (spawn, timing history) run everything but those modules.
SERIAL_OPTIONS = {**VARIANTS, "baseline": MIXED_MODULE}

_RAN = re.compile(r"^(Ran \d+ tests?) in \d+\.\d+s$", re.MULTILINE)
# Object addresses in exception texts (``<unlocked _thread.lock object at 0x7f...>``) differ
# from process to process.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")

# -- what the serial runner must say about the fixture suite -----------------------------------

_OUT = "library.tests.test_outcomes."
_ERR = "library.tests.test_class_errors."
_DB = "library.tests.test_database."
_PKL = "library.tests.test_unpicklable.UnpicklableTests."
_SET = "ledger.tests.test_settings_and_tags."
_MOD = "ledger.tests.test_module_fixtures."


def expected_outcomes(vendor: str) -> dict[str, str]:
    """Return the outcome of every id of the whole fixture suite under the serial runner."""
    has_select_for_update = vendor != "sqlite"
    return {
        "unittest.loader._FailedTest.library.tests.test_import_fails": "error",
        # test_outcomes
        f"{_OUT}OutcomeTests.test_pass": "passed",
        f"{_OUT}OutcomeTests.test_failure": "failed",
        f"{_OUT}OutcomeTests.test_error": "error",
        f"{_OUT}OutcomeTests.test_skip_decorator": "skipped",
        f"{_OUT}OutcomeTests.test_skip_in_test": "skipped",
        f"{_OUT}OutcomeTests.test_expected_failure_that_fails": "expected_failure",
        f"{_OUT}OutcomeTests.test_expected_failure_that_passes": "unexpected_success",
        f"{_OUT}SubTestTests.test_subtests_fail_and_error": "error",
        f"{_OUT}SubTestTests.test_subtests_fail_and_error (i=1)": "failed",
        f"{_OUT}SubTestTests.test_subtests_fail_and_error (i=2)": "error",
        f"{_OUT}SubTestTests.test_subtests_only_fail": "failed",
        f"{_OUT}SubTestTests.test_subtests_only_fail (i=2)": "failed",
        f"{_OUT}SubTestTests.test_subtests_all_pass": "passed",
        f"{_OUT}SkippedClassTests.test_one": "skipped",
        f"{_OUT}SkippedClassTests.test_two": "skipped",
        f"{_OUT}SkipInSetUpTests.test_one": "skipped",
        f"{_OUT}SkipInSetUpTests.test_two": "skipped",
        f"setUpClass ({_OUT}SkipInSetUpClassTests)": "skipped",
        f"{_OUT}SkipInSetUpClassTests.test_one": "not_run",
        f"{_OUT}SkipInSetUpClassTests.test_two": "not_run",
        # test_class_errors
        f"setUpClass ({_ERR}SetUpClassErrorTests)": "error",
        f"{_ERR}SetUpClassErrorTests.test_one": "not_run",
        f"{_ERR}SetUpClassErrorTests.test_two": "not_run",
        f"setUpClass ({_ERR}SetUpTestDataErrorTests)": "error",
        f"{_ERR}SetUpTestDataErrorTests.test_one": "not_run",
        f"{_ERR}SetUpTestDataErrorTests.test_two": "not_run",
        f"{_ERR}TearDownClassErrorTests.test_one": "passed",
        f"{_ERR}TearDownClassErrorTests.test_two": "passed",
        f"tearDownClass ({_ERR}TearDownClassErrorTests)": "error",
        f"{_ERR}CleanupErrorTests.test_failure_then_cleanup_error": "error",
        f"{_ERR}CleanupErrorTests.test_pass": "passed",
        f"tearDownClass ({_ERR}CleanupErrorTests)": "error",
        # test_module_errors: serial reports this setUpModule error twice (see the module)
        "setUpModule (library.tests.test_module_errors)": "error",
        "library.tests.test_module_errors.ModuleErrorSimpleTests.test_never_runs": "not_run",
        "library.tests.test_module_errors.ModuleErrorDatabaseTests.test_never_runs": "not_run",
        # test_unpicklable
        f"{_PKL}test_error_holding_lock": "error",
        f"{_PKL}test_error_with_lock_argument": "error",
        f"{_PKL}test_error_holding_generator": "error",
        f"{_PKL}test_failure_holding_lock": "failed",
        f"{_PKL}test_error_of_local_class": "error",
        f"{_PKL}test_failure_of_local_class": "failed",
        f"{_PKL}test_subtest_error_holding_lock": "error",
        f"{_PKL}test_subtest_error_holding_lock (i=1)": "error",
        # test_database
        f"{_DB}BookTests.test_class_data": "passed",
        f"{_DB}BookTests.test_data_migration_rows_are_visible": "passed",
        f"{_DB}BookTests.test_changes_roll_back": "passed",
        f"{_DB}BookTests.test_changes_rolled_back": "passed",
        f"{_DB}BookTransactionTests.test_create_and_count": "passed",
        f"{_DB}BookTransactionTests.test_starts_empty": "passed",
        f"{_DB}BookTransactionTests.test_failure_inside_transaction_test": "failed",
        f"{_DB}SerializedRollbackTests.test_migration_data_present_first": "passed",
        f"{_DB}SerializedRollbackTests.test_migration_data_present_second": "passed",
        f"{_DB}TwoDatabaseTests.test_write_to_both": "passed",
        f"{_DB}TwoDatabaseTests.test_aliases_are_distinct_databases": "passed",
        f"{_DB}TwoDatabaseTests.test_other_has_migration_data": "passed",
        # ledger
        "ledger.tests.test_live_server.BookLiveServerTests.test_titles_over_http": "passed",
        f"{_MOD}FirstModuleTests.test_module_set_up_once": "passed",
        f"{_MOD}SecondModuleTests.test_module_set_up_once": "passed",
        f"{_MOD}SecondModuleTests.test_uses_database": "passed",
        "ledger.tests.test_module_teardown.ModuleTearDownTests.test_passes": "passed",
        "ledger.tests.test_module_mixed_types.MixedModuleCaseTests.test_sees_migration_data": (
            "passed"
        ),
        "ledger.tests.test_module_mixed_types.MixedModuleTransactionTests"
        ".test_writes_and_is_flushed": "passed",
        "tearDownModule (ledger.tests.test_module_teardown)": "error",
        f"{_SET}OverrideSettingsTests.test_class_override": "passed",
        f"{_SET}OverrideSettingsTests.test_method_override": "passed",
        f"{_SET}OverrideSettingsTests.test_context_manager": "passed",
        f"{_SET}SettingsRestoredTests.test_base_value": "passed",
        f"{_SET}TaggedTests.test_fast_and_slow": "passed",
        f"{_SET}TaggedTests.test_slow_only": "passed",
        f"{_SET}TaggedTests.test_slow_failure": "failed",
        f"{_SET}FeatureTests.test_select_for_update": (
            "passed" if has_select_for_update else "skipped"
        ),
        f"{_SET}FeatureTests.test_empty_string_stays_empty": "passed",
        f"{_SET}FeatureTests.test_skipped_everywhere": "skipped",
        f"{_SET}FeatureTests.test_vendor_is_known": "passed",
        f"{_SET}TransactionalOnlyTests.test_runs": "passed",
        f"{_SET}NoSelectForUpdateTests.test_runs_where_select_for_update_is_missing": (
            "skipped" if has_select_for_update else "passed"
        ),
    }


EXPECTED_RAN = "Ran 58 tests"
EXPECTED_VERDICT = (
    "FAILED (failures=8, errors=16, skipped=9, expected failures=1, unexpected successes=1)"
)

# -- running the two sides -----------------------------------------------------------------------


@dataclass
class SuiteRun:
    """What one run of the fixture suite said: exit status, final lines and per-id record."""

    command: str
    returncode: int
    output: str
    ran: str | None
    verdict: str | None
    summary: dict[str, Any] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcomes(self) -> dict[str, str]:
        return {entry["id"]: entry["outcome"] for entry in self.tests}

    @property
    def messages(self) -> dict[str, str]:
        return {entry["id"]: entry.get("message") or "" for entry in self.tests}

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-40:])
        return (
            f"command: {self.command}\nexit status: {self.returncode}\n--- output tail ---\n{tail}"
        )


def final_lines(output: str) -> tuple[str | None, str | None]:
    """Return ``Ran N tests`` (without the time) and the ``OK``/``FAILED (...)`` line after it."""
    matches = list(_RAN.finditer(output))
    if not matches:
        return None, None
    last = matches[-1]
    for line in output[last.end() :].splitlines():
        if line.strip():
            return last.group(1), line.strip()
    return last.group(1), None


def fidelity_env(vendor: str, sqlite_dir: Path) -> dict[str, str]:
    """Return the environment that points the fixture project at ``vendor``'s databases."""
    if vendor == "sqlite":
        main = database_url(vendor, str(sqlite_dir / "fidelity_main.sqlite3"))
        other = database_url(vendor, str(sqlite_dir / "fidelity_other.sqlite3"))
    else:
        main = database_url(vendor, f"{TOKEN}_main")
        other = database_url(vendor, f"{TOKEN}_other")
    return {
        # pytest-django exported the pytest suite's settings; the fixture project has its own.
        "DJANGO_SETTINGS_MODULE": "fidelity_project.settings",
        "DATABASE_URL": main,
        "OTHER_DATABASE_URL": other,
    }


def run_serial(env: dict[str, str], record: Path, *options: str) -> SuiteRun:
    """Run the fixture suite with Django's serial runner and read the recording."""
    args = ("test", "--noinput", RECORDING_RUNNER, "--record", str(record), *options)
    process = run_manage(FIXTURE_DIR, *args, env=env, timeout=300)
    return _suite_run(args, process, record)


def run_concurrent(env: dict[str, str], report: Path, *options: str, workers: int = 2) -> SuiteRun:
    """Run the fixture suite with ``concurrent_test --workers N`` and read its JSON report.

    ``--no-history``: the fixture's real databases are never migrated, and timing history has
    no say in a verdict.
    """
    args = (
        "concurrent_test",
        "--noinput",
        "--workers",
        str(workers),
        "--no-history",
        "--json-report",
        str(report),
        *options,
    )
    process = run_manage(FIXTURE_DIR, *args, env=env, timeout=300)
    return _suite_run(args, process, report)


def _suite_run(args: tuple[str, ...], process: Any, path: Path) -> SuiteRun:
    output = f"{process.stdout}\n{process.stderr}"
    ran, verdict = final_lines(process.stderr) if process.stderr else (None, None)
    if ran is None:
        ran, verdict = final_lines(output)
    run = SuiteRun(
        command=f"cd {FIXTURE_DIR} && python manage.py {' '.join(args)}",
        returncode=process.returncode,
        output=output,
        ran=ran,
        verdict=verdict,
    )
    if path.exists():
        data = json.loads(path.read_text())
        run.summary = data.get("summary", {})
        run.tests = data.get("tests", [])
    return run


# -- comparing them ------------------------------------------------------------------------------


def mismatches(serial: SuiteRun, concurrent: SuiteRun) -> list[str]:
    """Return every way the concurrent run's verdict differs from the serial one."""
    problems: list[str] = []
    if concurrent.returncode != serial.returncode:
        problems.append(f"exit status: expected {serial.returncode}, got {concurrent.returncode}")
    if (concurrent.ran, concurrent.verdict) != (serial.ran, serial.verdict):
        problems.append(
            f"final lines: expected {serial.ran!r} / {serial.verdict!r}, "
            f"got {concurrent.ran!r} / {concurrent.verdict!r}"
        )
    if not concurrent.tests:
        problems.append("the JSON report has no tests (or was not written)")
        return problems

    ids = [entry["id"] for entry in concurrent.tests]
    duplicates = sorted({test_id for test_id in ids if ids.count(test_id) > 1})
    if duplicates:
        problems.append(f"ids listed more than once in the report: {duplicates}")

    expected, got = serial.outcomes, concurrent.outcomes
    for test_id in sorted(set(expected) | set(got)):
        want, have = expected.get(test_id, "(absent)"), got.get(test_id, "(absent)")
        if want != have:
            problems.append(f"{test_id}: expected {want}, got {have}")

    for key in SUMMARY_KEYS:
        want_count, have_count = serial.summary.get(key), concurrent.summary.get(key)
        if want_count != have_count:
            problems.append(f"summary[{key!r}]: expected {want_count}, got {have_count}")
    if concurrent.summary.get("successful") is not (serial.returncode == 0):
        problems.append(
            f"summary['successful']: expected {serial.returncode == 0}, "
            f"got {concurrent.summary.get('successful')!r}"
        )

    problems.extend(message_mismatches(serial, concurrent))
    problems.extend(entry_shape_problems(concurrent))
    return problems


def entry_shape_problems(concurrent: SuiteRun) -> list[str]:
    """Return the report entries that lack a field of the documented shape."""
    problems = []
    for entry in concurrent.tests:
        shape = {
            "outcome": entry.get("outcome") in OUTCOMES,
            "duration": isinstance(entry.get("duration"), (int, float)) and entry["duration"] >= 0,
            "worker": entry.get("worker") is None or entry["worker"] in (1, 2),
            "message": isinstance(entry.get("message"), str),
        }
        bad = [name for name, ok in shape.items() if not ok]
        if bad:
            problems.append(f"{entry.get('id')}: bad {', '.join(bad)} in report entry {entry}")
    return problems


def message_mismatches(serial: SuiteRun, concurrent: SuiteRun) -> list[str]:
    """Return ids whose skip reason or traceback did not survive the trip from the worker."""
    problems = []
    got = concurrent.messages
    for entry in serial.tests:
        test_id, message = entry["id"], entry["message"]
        if not message or test_id not in got:
            continue
        if entry["outcome"] == "skipped":
            if got[test_id] != message:
                problems.append(f"{test_id}: skip reason {message!r}, got {got[test_id]!r}")
        elif entry["outcome"] in ("failed", "error", "expected_failure"):
            # The exception line (type and text) must arrive intact, even from an exception
            # that cannot be pickled or whose class was defined inside a function.
            last_line = _ADDRESS.sub("0x?", message.strip().splitlines()[-1])
            if last_line not in _ADDRESS.sub("0x?", got[test_id]):
                problems.append(f"{test_id}: traceback lacks {last_line!r}")
    return problems


def report(problems: list[str], serial: SuiteRun, concurrent: SuiteRun) -> str:
    return "\n".join(
        [f"{len(problems)} mismatch(es):", *problems, "", "SERIAL", serial.describe()]
        + ["", "CONCURRENT", concurrent.describe()]
    )


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def used_servers() -> Any:
    """Drop, at the end, every database this module's runs left on the servers it used."""
    used: set[str] = set()
    yield used
    for vendor in sorted(used):
        if _reachable(str(SERVERS[vendor]["host"]), int(SERVERS[vendor]["port"])):  # type: ignore[call-overload]
            drop_session_databases(vendor)


@pytest.fixture(scope="module")
def serial_cache() -> dict[tuple[str, str], SuiteRun]:
    return {}


@pytest.fixture
def env(vendor: str, tmp_path_factory: pytest.TempPathFactory, used_servers: set[str]) -> Any:
    if vendor != "sqlite":
        used_servers.add(vendor)
    return fidelity_env(vendor, tmp_path_factory.mktemp(f"fidelity_{vendor}"))


def serial_run(
    cache: dict[tuple[str, str], SuiteRun],
    vendor: str,
    variant: str,
    env: dict[str, str],
    tmp_path: Path,
) -> SuiteRun:
    """Return the serial run of ``variant`` on ``vendor``, running it once per module."""
    key = (vendor, variant)
    if key not in cache:
        cache[key] = run_serial(env, tmp_path / "serial.json", *SERIAL_OPTIONS[variant])
    return cache[key]


def drop_session_databases(vendor: str) -> None:
    """Drop the test databases, templates and clones named after this session's token."""
    if vendor in ("postgresql", "mysql"):
        dbserver.drop_databases(vendor, dbserver.databases(vendor, TOKEN))


# -- the checks ----------------------------------------------------------------------------------


def test_serial_reference_is_what_the_fixture_suite_means(
    vendor: str, env: dict[str, str], tmp_path: Path, serial_cache: dict[Any, SuiteRun]
) -> None:
    """Pin the serial side, so that a broken fixture cannot make the comparison vacuous."""
    serial = serial_run(serial_cache, vendor, "all", env, tmp_path)
    assert serial.returncode == 1, serial.describe()
    assert (serial.ran, serial.verdict) == (EXPECTED_RAN, EXPECTED_VERDICT), serial.describe()
    assert serial.outcomes == expected_outcomes(vendor), serial.describe()
    assert serial.summary == {
        "tests_run": 58,
        "passed": 33,
        "failures": 8,
        "errors": 16,
        "skipped": 9,
        "expected_failures": 1,
        "unexpected_successes": 1,
        "not_run": 8,
    }, serial.describe()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_concurrent_verdict_matches_serial(
    vendor: str,
    variant: str,
    env: dict[str, str],
    tmp_path: Path,
    serial_cache: dict[Any, SuiteRun],
) -> None:
    serial = serial_run(serial_cache, vendor, variant, env, tmp_path)
    assert serial.tests and serial.ran, serial.describe()
    concurrent = run_concurrent(env, tmp_path / "concurrent.json", *VARIANTS[variant])
    problems = mismatches(serial, concurrent)
    assert not problems, report(problems, serial, concurrent)


def test_spawned_workers_give_the_same_verdict(
    vendor: str, env: dict[str, str], tmp_path: Path, serial_cache: dict[Any, SuiteRun]
) -> None:
    serial = serial_run(serial_cache, vendor, "baseline", env, tmp_path)
    assert serial.tests and serial.ran, serial.describe()
    concurrent = run_concurrent(
        env, tmp_path / "concurrent.json", "--start-method", "spawn", *MIXED_MODULE
    )
    problems = mismatches(serial, concurrent)
    assert not problems, report(problems, serial, concurrent)


# Timing history that makes the TransactionTestCase units look longest and BookTests (whose
# setUpTestData reads rows a data migration made) come right after them, so that the default
# scheduler (longest expected first) hands BookTests to a worker whose database a
# TransactionTestCase has already flushed. Units not listed get the median of the listed ones,
# hence the small ones that keep that median near zero.
TRANSACTION_TESTS_FIRST = {
    "version": 1,
    "units": {
        "library.tests.test_database.BookTransactionTests": 100.0,
        "ledger.tests.test_live_server.BookLiveServerTests": 90.0,
        "library.tests.test_database.SerializedRollbackTests": 80.0,
        "library.tests.test_database.BookTests": 70.0,
        "library.tests.test_outcomes.OutcomeTests": 0.001,
        "library.tests.test_outcomes.SubTestTests": 0.001,
        "library.tests.test_unpicklable.UnpicklableTests": 0.001,
        "ledger.tests.test_settings_and_tags.OverrideSettingsTests": 0.001,
        "ledger.tests.test_settings_and_tags.SettingsRestoredTests": 0.001,
    },
}


def test_unit_order_from_history_does_not_change_the_verdict(
    vendor: str, env: dict[str, str], tmp_path: Path, serial_cache: dict[Any, SuiteRun]
) -> None:
    """A TransactionTestCase's flush must never reach a TestCase that runs after it.

    Serial Django runs every TestCase before any TransactionTestCase, so a TestCase always
    sees the rows data migrations made. Whatever order the scheduler picks, the verdict must
    stay the same.
    """
    serial = serial_run(serial_cache, vendor, "baseline", env, tmp_path)
    assert serial.tests and serial.ran, serial.describe()
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps(TRANSACTION_TESTS_FIRST))
    concurrent = run_concurrent(
        env, tmp_path / "concurrent.json", "--timings-file", str(timings), *MIXED_MODULE
    )
    problems = mismatches(serial, concurrent)
    assert not problems, report(problems, serial, concurrent)


MIXED_TYPES_LABELS = (
    "ledger.tests.test_module_mixed_types",
    "library.tests.test_database.BookTests",
)


def test_module_unit_keeps_transaction_tests_last(
    vendor: str, env: dict[str, str], tmp_path: Path
) -> None:
    """A module unit's TransactionTestCase must not flush the database of a later TestCase.

    One worker, so that BookTests (which reads data-migration rows in setUpTestData) surely
    runs on the database the module's TransactionTestCase used.
    """
    serial = run_serial(env, tmp_path / "serial.json", *MIXED_TYPES_LABELS)
    assert (serial.returncode, serial.ran, serial.verdict) == (0, "Ran 6 tests", "OK"), (
        serial.describe()
    )
    concurrent = run_concurrent(env, tmp_path / "concurrent.json", *MIXED_TYPES_LABELS, workers=1)
    problems = mismatches(serial, concurrent)
    assert not problems, report(problems, serial, concurrent)


def test_failfast_exits_1(vendor: str, env: dict[str, str], tmp_path: Path) -> None:
    serial = run_serial(env, tmp_path / "serial.json", "--failfast")
    assert serial.returncode == 1, serial.describe()
    concurrent = run_concurrent(env, tmp_path / "concurrent.json", "--failfast")
    assert concurrent.returncode == 1, concurrent.describe()
    assert concurrent.verdict and concurrent.verdict.startswith("FAILED ("), concurrent.describe()
