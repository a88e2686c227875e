"""Read expected durations, write this run's timings, and import or export the timings file.

The runner calls :func:`load_expected` before the test databases exist (on the real database)
and :func:`record_run` after they are torn down. Neither may end a run: a database without the
history tables, or no database at all, just means "no history". The timings file carries the
same expectations between machines that do not share a database, such as fresh CI runners.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from concurrent_test_app.conf import app_settings
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.models import Case, CaseResult, Run, UnitTiming, WorkerStat, case_digest
from concurrent_test_app.reports.records import RunReport

logger = logging.getLogger(__name__)

MIGRATE_HINT = "run `manage.py migrate` to enable timing history"
NOT_CONFIGURED = "is not configured (DATABASES has no ENGINE for it)"
_DUMMY_ENGINE = "django.db.backends.dummy"

# The moving average gives the newest run this weight and the older average the rest, so a
# unit that got slower is trusted after two or three runs while one noisy run moves it halfway.
RECENT_WEIGHT = 0.5
# How many of a unit's (or test's) most recent runs the averages and percentiles look at.
HISTORY_WINDOW = 10
# A test is flaky when its outcome changed within this many of its most recent runs.
FLAKY_WINDOW = 10
# How many recent runs the worker-memory percentile looks at.
MEMORY_WINDOW = 20

TIMINGS_VERSION = 1
TIMINGS_SOURCE = "--timings-file or settings.TEST_TIMINGS_FILE"

_GOOD_OUTCOMES = frozenset({"passed", "expected_failure"})
_BAD_OUTCOMES = frozenset({"failed", "error", "unexpected_success"})
# Durations of tests that were skipped, never ran or errored (a timeout is an error) say
# nothing about how long the test normally takes.
_TIMED_OUTCOMES = frozenset({"passed", "failed", "expected_failure", "unexpected_success"})

_PSEUDO_TESTS = frozenset({"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"})
_CHUNK = 500
_HISTORY_MODELS = (Run, Case, CaseResult, UnitTiming, WorkerStat)
_warned_missing: set[str] = set()

T = TypeVar("T")


# -- the database --------------------------------------------------------------------------


def _alias(using: str | None) -> str:
    alias = using or app_settings.history_database
    if alias not in connections:
        raise ConfigurationError(
            f"The timing history database {alias!r} (settings.CONCURRENT_TEST_HISTORY_DATABASE) "
            "is not in settings.DATABASES; set it to one of "
            f"{', '.join(repr(a) for a in connections)}."
        )
    return alias


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _in_memory(connection: BaseDatabaseWrapper) -> bool:
    """Return whether ``connection`` is to an in-memory SQLite database."""
    method = getattr(connection, "is_in_memory_db", None)
    return connection.vendor == "sqlite" and method is not None and bool(method())


@contextmanager
def _connection(alias: str) -> Iterator[BaseDatabaseWrapper]:
    """Yield a connection to the database ``alias`` names now, and close it if it was closed.

    Django cannot close a connection to an in-memory SQLite test database; after teardown it
    restores the real database's name but keeps talking to the test database. Reconnecting
    first sends history where the settings say. Closing afterwards matters too: the runner
    forks workers after reading history, and each child would share an open connection.
    """
    connection = connections[alias]
    was_open = connection.connection is not None
    if was_open and not connection.in_atomic_block:
        connection.close()
    try:
        yield connection
    finally:
        if not was_open and not connection.in_atomic_block:
            connection.close()


def _missing_history(alias: str) -> str | None:
    """Return why the database ``alias`` cannot hold history, or None when it can."""
    connection = connections[alias]
    if connection.settings_dict.get("ENGINE") == _DUMMY_ENGINE:
        return NOT_CONFIGURED
    if connection.vendor == "sqlite" and not _in_memory(connection):
        # Connecting would create an empty database file where the project has none yet.
        if not Path(str(connection.settings_dict["NAME"])).exists():
            return "does not exist yet"
    try:
        tables = set(connection.introspection.table_names())
    except (DatabaseError, ImproperlyConfigured) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"cannot be reached ({first_line})"
    if not all(model._meta.db_table in tables for model in _HISTORY_MODELS):
        return "has no concurrent_test_app tables"
    return None


def history_tables_exist(alias: str) -> bool:
    """Return whether the database ``alias`` is reachable and holds the history tables."""
    return _missing_history(alias) is None


def _warn_missing(alias: str, reason: str) -> None:
    if alias in _warned_missing:
        return
    if reason == NOT_CONFIGURED:
        # A project without a database has no history to keep: nothing to warn about.
        logger.debug("Timing history is off: database %r %s.", alias, reason)
        return
    _warned_missing.add(alias)
    logger.warning("Timing history is off: database %r %s; %s.", alias, reason, MIGRATE_HINT)


def _moving_average(newest_first: Sequence[float]) -> float:
    """Return the exponentially weighted average of ``newest_first``, favouring recent values."""
    average = newest_first[-1]
    for value in reversed(newest_first[:-1]):
        average = RECENT_WEIGHT * value + (1 - RECENT_WEIGHT) * average
    return average


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (``fraction`` between 0 and 1)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _expected_from_database(keys: Sequence[str], alias: str) -> dict[str, float]:
    recent: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for chunk in _chunks(keys):
        rows = (
            UnitTiming.objects.using(alias)
            .filter(key__in=chunk)
            .annotate(
                recency=Window(RowNumber(), partition_by=[F("key")], order_by=F("run_id").desc())
            )
            .filter(recency__lte=HISTORY_WINDOW)
            .values_list("key", "recency", "seconds")
        )
        for key, recency, seconds in rows:
            recent[key].append((recency, seconds))
    return {
        key: _moving_average([seconds for _, seconds in sorted(values)])
        for key, values in recent.items()
    }


def load_expected(
    unit_keys: Sequence[str], *, using: str | None = None, timings_file: Path | None = None
) -> dict[str, float]:
    """Return the expected seconds (tests and set-up) of every unit that has a history.

    The database's history wins; the timings file fills in units the database has never
    seen (all of them on a fresh CI machine). Units known to neither are left out: the
    scheduler gives them the median of the known ones.
    """
    keys = list(dict.fromkeys(unit_keys))
    alias = _alias(using)
    expected: dict[str, float] = {}
    if keys:
        with _connection(alias):
            if history_tables_exist(alias):
                try:
                    expected = _expected_from_database(keys, alias)
                except DatabaseError as exc:
                    logger.warning("Could not read timing history from %r: %s", alias, exc)
    missing = [key for key in keys if key not in expected]
    if missing and timings_file is not None:
        expected.update(expected_from_timings_file(missing, timings_file))
    logger.debug("Expected durations known for %d of %d units", len(expected), len(keys))
    return expected


def expected_from_timings_file(unit_keys: Sequence[str], path: Path) -> dict[str, float]:
    """Return the expected seconds the timings file gives for ``unit_keys`` (no database)."""
    units = read_timings_file(path)["units"]
    return {key: units[key]["seconds"] for key in unit_keys if key in units}


# -- recording a run -----------------------------------------------------------------------


def _run(args: list[str]) -> str:
    try:
        completed = subprocess.run(
            args, capture_output=True, text=True, timeout=5, check=True, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return completed.stdout.strip()


def git_revision() -> tuple[str, str]:
    """Return the current git commit and branch ("" for each when unknown or detached)."""
    commit = _run(["git", "rev-parse", "HEAD"])
    if not commit:
        return "", ""
    branch = _run(["git", "rev-parse", "--abbrev-ref", "HEAD"])
    if branch == "HEAD":
        # CI checks out a detached commit; the CI system still knows the branch.
        branch = app_settings.ci_branch
    return commit, branch


def run_outcome(report: RunReport) -> str:
    """Return the run's outcome as the admin filters it."""
    if report.exit_status in (130, 143):
        return Run.Outcome.INTERRUPTED
    if report.exit_status == 3:
        return Run.Outcome.TIMED_OUT
    if report.exit_status == 0 and report.summary.get("successful", True):
        return Run.Outcome.PASSED
    return Run.Outcome.FAILED


def _moment(epoch: float) -> datetime:
    aware = datetime.fromtimestamp(epoch, tz=dt_timezone.utc)
    # timezone.now() is aware exactly when USE_TZ is on; naive values must be local time.
    return aware if timezone.is_aware(timezone.now()) else timezone.make_naive(aware)


def class_of(test_id: str) -> str:
    """Return the dotted class (or module) name of a test id as unittest reports it."""
    head, _, rest = test_id.partition(" ")
    # "setUpClass (module.Class)" names its class; "module.Class.test (i=1)" is a subtest.
    if head in _PSEUDO_TESTS and rest.startswith("(") and rest.endswith(")"):
        return rest[1:-1]
    return head.rsplit(".", 1)[0]


def unit_totals(report: RunReport) -> dict[str, dict[str, float]]:
    """Return per unit key its seconds (tests and set-up), set-up seconds, tests and slot.

    A unit re-queued after its worker died appears more than once; its pieces add up. The
    unit's seconds are never less than its set-up plus its tests' durations, whether or not
    the runner counted the set-up into them.
    """
    test_seconds: dict[str, float] = defaultdict(float)
    test_count: dict[str, int] = defaultdict(int)
    for case in report.tests:
        if case.unit:
            test_seconds[case.unit] += case.duration
            test_count[case.unit] += 1
    totals: dict[str, dict[str, float]] = {}
    for unit in report.units:
        entry = totals.setdefault(
            unit.key, {"seconds": 0.0, "setup_seconds": 0.0, "tests": 0, "slot": -1}
        )
        entry["seconds"] += unit.seconds
        entry["setup_seconds"] += unit.setup_seconds
        if unit.slot is not None:
            entry["slot"] = unit.slot
    for key, entry in totals.items():
        entry["seconds"] = max(entry["seconds"], entry["setup_seconds"] + test_seconds[key])
        entry["tests"] = test_count[key]
    return totals


def record_run(report: RunReport, *, using: str | None = None) -> bool:
    """Write the run into the history database; return False (and say why) when it cannot."""
    try:
        alias = _alias(using)
    except ConfigurationError as exc:
        logger.warning("Timing history was not recorded: %s", exc)
        return False
    with _connection(alias):
        reason = _missing_history(alias)
        if reason is not None:
            _warn_missing(alias, reason)
            return False
        try:
            with transaction.atomic(using=alias):
                run = _write_run(report, alias)
        except DatabaseError as exc:
            logger.warning("Timing history was not recorded in database %r: %s", alias, exc)
            return False
    logger.info("Recorded run %s with %d tests in database %r", run.pk, len(report.tests), alias)
    return True


def _write_run(report: RunReport, alias: str) -> Run:
    summary = report.summary
    commit, branch = git_revision()
    fingerprints = ",".join(t.fingerprint for t in report.templates if t.fingerprint)
    run = Run.objects.using(alias).create(
        started_at=_moment(report.started_at),
        finished_at=_moment(report.finished_at),
        wall_seconds=float(summary.get("wall_seconds", report.finished_at - report.started_at)),
        workers=int(summary.get("workers", len(report.workers))),
        shard=report.shard or "",
        vendor=report.vendor[:30],
        template_fingerprint=fingerprints[:255],
        git_commit=commit[:64],
        git_branch=branch[:255],
        host=socket.gethostname()[:255],
        outcome=run_outcome(report),
        exit_status=report.exit_status,
        tests_run=int(summary.get("tests_run", 0)),
        passed=int(summary.get("passed", 0)),
        failures=int(summary.get("failures", 0)),
        errors=int(summary.get("errors", 0)),
        skipped=int(summary.get("skipped", 0)),
        expected_failures=int(summary.get("expected_failures", 0)),
        unexpected_successes=int(summary.get("unexpected_successes", 0)),
        not_run=int(summary.get("not_run", 0)),
    )
    cases = _cases(report, alias)
    CaseResult.objects.using(alias).bulk_create(
        [
            CaseResult(
                run=run,
                case_id=cases[record.id],
                duration=record.duration,
                outcome=record.outcome,
                worker=record.worker,
                message=record.message,
            )
            for record in _unique_records(report)
        ],
        batch_size=_CHUNK,
    )
    UnitTiming.objects.using(alias).bulk_create(
        [
            UnitTiming(
                run=run,
                key=key[:255],
                worker=None if entry["slot"] < 0 else int(entry["slot"]),
                seconds=entry["seconds"],
                setup_seconds=entry["setup_seconds"],
                tests=int(entry["tests"]),
            )
            for key, entry in unit_totals(report).items()
        ],
        batch_size=_CHUNK,
    )
    WorkerStat.objects.using(alias).bulk_create(
        [
            WorkerStat(
                run=run,
                slot=worker.slot,
                database=worker.database[:255],
                tests=worker.tests,
                units=worker.units,
                busy_seconds=worker.busy_seconds,
                setup_seconds=worker.setup_seconds,
                queries=worker.queries,
                memory_peak_mb=worker.memory_peak_mb,
                restarts=worker.restarts,
                recycles=worker.recycles,
                timeline=[[key, start, end] for key, start, end in worker.timeline],
            )
            for worker in {w.slot: w for w in report.workers}.values()
        ],
        batch_size=_CHUNK,
    )
    _refresh_cases(report, run, cases, alias)
    return run


def _unique_records(report: RunReport) -> Iterable[Any]:
    seen: dict[str, Any] = {}
    for record in report.tests:
        seen[record.id] = record
    return seen.values()


def _cases(report: RunReport, alias: str) -> dict[str, int]:
    """Return the primary key of every test id in the report, creating the missing cases."""
    ids = list(dict.fromkeys(record.id for record in report.tests))
    digests = {case_digest(test_id): test_id for test_id in ids}
    found: dict[str, int] = {}

    def look_up(chunk: Sequence[str]) -> None:
        rows = Case.objects.using(alias).filter(digest__in=chunk).values_list("digest", "pk")
        found.update((digests[digest], pk) for digest, pk in rows)

    for chunk in _chunks(list(digests)):
        look_up(chunk)
    missing = [test_id for test_id in ids if test_id not in found]
    if missing:
        units = {record.id: record.unit for record in report.tests}
        # A shard recording at the same moment may create the same cases; both keep theirs.
        Case.objects.using(alias).bulk_create(
            [
                Case(
                    test_id=test_id,
                    digest=case_digest(test_id),
                    class_name=class_of(test_id)[:255],
                    unit=units[test_id][:255],
                )
                for test_id in missing
            ],
            batch_size=_CHUNK,
            ignore_conflicts=True,
        )
        for chunk in _chunks([case_digest(test_id) for test_id in missing]):
            look_up(chunk)
    return found


def _refresh_cases(report: RunReport, run: Run, cases: dict[str, int], alias: str) -> None:
    """Set each test's latest duration and outcome and its flaky flag after this run."""
    outcomes: dict[int, list[str]] = defaultdict(list)
    ids = list(cases.values())
    for chunk in _chunks(ids):
        rows = (
            CaseResult.objects.using(alias)
            .filter(case_id__in=chunk)
            .annotate(
                recency=Window(
                    RowNumber(), partition_by=[F("case_id")], order_by=F("run_id").desc()
                )
            )
            .filter(recency__lte=FLAKY_WINDOW)
            .values_list("case_id", "outcome")
        )
        for case_id, outcome in rows:
            outcomes[case_id].append(outcome)
    updates = []
    for record in _unique_records(report):
        seen = set(outcomes[cases[record.id]])
        flaky = bool(seen & _GOOD_OUTCOMES) and bool(seen & _BAD_OUTCOMES)
        updates.append(
            (record.unit[:255], record.duration, record.outcome, run.pk, flaky, cases[record.id])
        )
    # One plain UPDATE per test through executemany: QuerySet.bulk_update() builds a CASE
    # expression per row and field, which cost 2.6 s for 2,000 tests on SQLite.
    connection = connections[alias]
    quote = connection.ops.quote_name
    names = ("unit", "latest_duration", "latest_outcome", "last_run", "flaky")
    assignments = ", ".join(f"{quote(_column(Case, name))} = %s" for name in names)
    sql = (
        f"UPDATE {quote(Case._meta.db_table)} SET {assignments} "
        f"WHERE {quote(_column(Case, 'id'))} = %s"
    )
    with connection.cursor() as cursor:
        for batch in _chunks(updates):
            cursor.executemany(sql, list(batch))


def _column(model: Any, name: str) -> str:
    """Return the database column of ``model``'s field ``name``."""
    return str(model._meta.get_field(name).column)


def is_flaky(outcomes: Iterable[str]) -> bool:
    """Return whether these outcomes hold both a passing and a failing one."""
    seen = set(outcomes)
    return bool(seen & _GOOD_OUTCOMES) and bool(seen & _BAD_OUTCOMES)


# -- what scaling and adaptive timeouts ask ------------------------------------------------


def worker_memory_p90(using: str | None = None) -> float | None:
    """Return the 90th percentile of the workers' peak memory (MB) in recent runs, or None."""
    alias = _alias(using)
    with _connection(alias):
        if not history_tables_exist(alias):
            return None
        try:
            # Two queries: MariaDB refuses LIMIT inside an IN subquery.
            runs = list(
                Run.objects.using(alias)
                .order_by("-started_at", "-id")
                .values_list("pk", flat=True)[:MEMORY_WINDOW]
            )
            peaks = list(
                WorkerStat.objects.using(alias)
                .filter(run_id__in=runs, memory_peak_mb__gt=0)
                .values_list("memory_peak_mb", flat=True)
            )
        except DatabaseError as exc:
            logger.warning("Could not read worker memory history from %r: %s", alias, exc)
            return None
    return _percentile(peaks, 0.9) if peaks else None


def test_duration_p95(test_ids: Sequence[str], using: str | None = None) -> dict[str, float]:
    """Return the 95th percentile of each test's recent durations, for tests with a history."""
    alias = _alias(using)
    ids = list(dict.fromkeys(test_ids))
    durations: dict[str, list[float]] = defaultdict(list)
    if not ids:
        return {}
    with _connection(alias):
        if not history_tables_exist(alias):
            return {}
        try:
            for chunk in _chunks(ids):
                rows = (
                    CaseResult.objects.using(alias)
                    .filter(case__test_id__in=chunk, outcome__in=_TIMED_OUTCOMES)
                    .annotate(
                        recency=Window(
                            RowNumber(), partition_by=[F("case_id")], order_by=F("run_id").desc()
                        )
                    )
                    .filter(recency__lte=HISTORY_WINDOW)
                    .values_list("case__test_id", "duration")
                )
                for test_id, duration in rows:
                    durations[test_id].append(duration)
        except DatabaseError as exc:
            logger.warning("Could not read test durations from %r: %s", alias, exc)
            return {}
    return {test_id: _percentile(values, 0.95) for test_id, values in durations.items()}


# Not a test, whatever its name says.
test_duration_p95.__test__ = False  # type: ignore[attr-defined]


# -- the timings file ------------------------------------------------------------------------


def _empty_document() -> dict[str, Any]:
    return {"version": TIMINGS_VERSION, "units": {}}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


def read_timings_file(path: Path, *, source: str = TIMINGS_SOURCE) -> dict[str, Any]:
    """Return the timings file's content: ``{"version": 1, "units": {key: entry}}``.

    Each entry has ``seconds`` (expected, tests and set-up), ``setup_seconds``, ``runs`` (how
    many runs the average has seen) and ``updated_at`` (epoch seconds). A file that does not
    exist yet is empty history; one that cannot be read or parsed is a configuration error.
    """
    path = Path(path)
    if not path.exists():
        return _empty_document()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(
            f"The timings file {path} (from {source}) cannot be read as JSON ({reason}); "
            "fix or delete it, or point the option at another file."
        ) from None
    units_raw = raw.get("units") if isinstance(raw, dict) else None
    version = raw.get("version", TIMINGS_VERSION) if isinstance(raw, dict) else None
    if not isinstance(units_raw, dict) or not isinstance(version, int):
        raise ConfigurationError(
            f"The timings file {path} (from {source}) is not a timings file (expected an object "
            'with "version" and "units"); delete it, or point the option at another file.'
        )
    if version > TIMINGS_VERSION:
        raise ConfigurationError(
            f"The timings file {path} (from {source}) has version {version}, newer than this "
            f"app reads ({TIMINGS_VERSION}); upgrade django-concurrent-test or delete the file."
        )
    units: dict[str, dict[str, float]] = {}
    for key, entry in units_raw.items():
        # A bare number is accepted too, so a hand-written file can be just {key: seconds}.
        fields = entry if isinstance(entry, dict) else {"seconds": entry}
        seconds = _number(fields.get("seconds"))
        if seconds is None:
            raise ConfigurationError(
                f"The timings file {path} (from {source}) gives unit {key!r} no valid number "
                'of "seconds"; fix that entry or delete the file.'
            )
        units[str(key)] = {
            "seconds": seconds,
            "setup_seconds": _number(fields.get("setup_seconds")) or 0.0,
            "runs": int(_number(fields.get("runs")) or 1),
            "updated_at": _number(fields.get("updated_at")) or 0.0,
        }
    return {"version": TIMINGS_VERSION, "units": units}


def _write_document(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` to ``path`` atomically, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=1, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_timings_file(report: RunReport, path: Path) -> None:
    """Export this run's unit timings to ``path``, keeping the units it did not run."""
    try:
        document = read_timings_file(path)
    except ConfigurationError as exc:
        logger.warning("Replacing the timings file: %s", exc)
        document = _empty_document()
    units = document["units"]
    for key, entry in unit_totals(report).items():
        previous = units.get(key)
        if previous is None:
            seconds, runs = entry["seconds"], 1
        else:
            seconds = _moving_average([entry["seconds"], previous["seconds"]])
            runs = int(previous["runs"]) + 1
        units[key] = {
            "seconds": round(seconds, 6),
            "setup_seconds": round(entry["setup_seconds"], 6),
            "runs": runs,
            "updated_at": report.finished_at,
        }
    _write_document(document, path)
    logger.info("Wrote timings of %d units to %s", len(units), path)


def merge_timings_files(paths: Sequence[Path], out: Path) -> dict[str, Any]:
    """Merge the timings files that several shards wrote into ``out`` and return the result.

    Every shard starts from the same file and updates the units it ran, so for each unit the
    most recently updated entry wins.
    """
    merged = _empty_document()
    for path in paths:
        if not Path(path).is_file():
            raise ConfigurationError(
                f"The timings file {path} given to merge_test_timings does not exist; "
                "pass the files the shards wrote with --timings-file."
            )
        document = read_timings_file(path, source="the merge_test_timings arguments")
        for key, entry in document["units"].items():
            current = merged["units"].get(key)
            if current is None or (entry["updated_at"], entry["runs"]) > (
                current["updated_at"],
                current["runs"],
            ):
                merged["units"][key] = entry
    _write_document(merged, out)
    return merged
