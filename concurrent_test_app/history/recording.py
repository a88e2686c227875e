"""Write a finished run into the history database: the run, its tests, units and workers.

The runner calls :func:`record_run` after the test databases are torn down. It never ends a
run: when the history database cannot take the run, it says why and returns False.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, NamedTuple, TypedDict

from django.db import DatabaseError, transaction
from django.utils import timezone

from concurrent_test_app.conf import app_settings
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.history.bulk import insert_rows, update_rows
from concurrent_test_app.history.store import (
    CHUNK,
    chunks,
    connected,
    history_alias,
    missing_history,
    warn_missing,
)
from concurrent_test_app.models import (
    Case,
    CaseResult,
    Run,
    UnitTiming,
    WorkerStat,
    case_digest,
    letter_outcomes,
    outcome_letters,
)
from concurrent_test_app.reports.records import CaseRecord, RunReport

logger = logging.getLogger(__name__)

_GOOD_OUTCOMES = frozenset({"passed", "expected_failure"})
_BAD_OUTCOMES = frozenset({"failed", "error", "unexpected_success"})
_PSEUDO_TESTS = frozenset({"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"})


class KnownCase(NamedTuple):
    """A test's row in history, as this run found it."""

    pk: int
    recent_outcomes: str  # Case.recent_outcomes before this run
    unit: str
    latest_outcome: str
    flaky: bool


class UnitTotals(TypedDict):
    """What one unit cost in a run, over all the times it was run."""

    seconds: float
    setup_seconds: float
    tests: int
    slot: int


# -- what the report says ------------------------------------------------------------------


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


def unit_totals(report: RunReport) -> dict[str, UnitTotals]:
    """Return per unit key its seconds (tests and set-up), set-up seconds, tests and slot.

    A unit re-queued after its worker died appears more than once; its pieces add up. A class
    split across workers is recorded as it would run whole: one piece's average set-up, once.
    The unit's seconds are never less than its set-up plus its tests' durations, whether or
    not the runner counted the set-up into them.
    """
    test_seconds: dict[str, float] = defaultdict(float)
    test_count: dict[str, int] = defaultdict(int)
    for case in report.tests:
        if case.unit:
            test_seconds[case.unit] += case.duration
            test_count[case.unit] += 1
    totals: dict[str, UnitTotals] = {}
    for unit in report.units:
        entry = totals.setdefault(
            unit.key, {"seconds": 0.0, "setup_seconds": 0.0, "tests": 0, "slot": -1}
        )
        entry["seconds"] += unit.seconds
        entry["setup_seconds"] += unit.setup_seconds
        if unit.slot is not None:
            entry["slot"] = unit.slot
    for key in set(report.split_units) & set(totals):
        entry = totals[key]
        pieces = sum(1 for unit in report.units if unit.key == key)
        repeated = entry["setup_seconds"] * (pieces - 1) / pieces
        entry["seconds"] -= repeated
        entry["setup_seconds"] -= repeated
    for key, entry in totals.items():
        entry["seconds"] = max(entry["seconds"], entry["setup_seconds"] + test_seconds[key])
        entry["tests"] = test_count[key]
    return totals


def is_flaky(outcomes: Iterable[str]) -> bool:
    """Return whether these outcomes hold both a passing and a failing one."""
    seen = set(outcomes)
    return bool(seen & _GOOD_OUTCOMES) and bool(seen & _BAD_OUTCOMES)


def _unique_records(report: RunReport) -> Iterable[CaseRecord]:
    """Return the report's tests, the last record of each id only."""
    seen: dict[str, CaseRecord] = {}
    for record in report.tests:
        seen[record.id] = record
    return seen.values()


# -- writing it ----------------------------------------------------------------------------


def record_run(report: RunReport, *, using: str | None = None) -> bool:
    """Write the run into the history database; return False (and say why) when it cannot."""
    try:
        alias = history_alias(using)
    except ConfigurationError as exc:
        logger.warning("Timing history was not recorded: %s", exc)
        return False
    with connected(alias):
        reason = missing_history(alias)
        if reason is not None:
            warn_missing(alias, reason)
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
    """Write the run's row and everything that hangs off it, in this order."""
    run = _create_run(report, alias)
    cases = _cases(report, alias)
    _write_results(report, run, cases, alias)
    _write_units(report, run, alias)
    _write_workers(report, run, alias)
    _refresh_cases(report, run, cases, alias)
    return run


def _create_run(report: RunReport, alias: str) -> Run:
    summary = report.summary
    commit, branch = git_revision()
    fingerprints = ",".join(t.fingerprint for t in report.templates if t.fingerprint)
    return Run.objects.using(alias).create(
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


def _write_results(report: RunReport, run: Run, cases: dict[str, KnownCase], alias: str) -> None:
    rows = [
        (
            run.pk,
            cases[record.id].pk,
            record.duration,
            record.outcome,
            record.worker,
            record.message,
        )
        for record in _unique_records(report)
    ]
    names = ("run", "case", "duration", "outcome", "worker", "message")
    insert_rows(alias, CaseResult, names, rows)


def _write_units(report: RunReport, run: Run, alias: str) -> None:
    UnitTiming.objects.using(alias).bulk_create(
        [
            UnitTiming(
                run=run,
                key=key[:255],
                worker=None if entry["slot"] < 0 else entry["slot"],
                seconds=entry["seconds"],
                setup_seconds=entry["setup_seconds"],
                tests=entry["tests"],
            )
            for key, entry in unit_totals(report).items()
        ],
        batch_size=CHUNK,
    )


def _write_workers(report: RunReport, run: Run, alias: str) -> None:
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
        batch_size=CHUNK,
    )


def _cases(report: RunReport, alias: str) -> dict[str, KnownCase]:
    """Return the row of every test id in the report, creating the missing cases."""
    ids = list(dict.fromkeys(record.id for record in report.tests))
    digests = {case_digest(test_id): test_id for test_id in ids}
    found: dict[str, KnownCase] = {}

    def look_up(chunk: Sequence[str]) -> None:
        cases = Case.objects.using(alias).filter(digest__in=chunk)
        rows = cases.values_list(
            "digest", "pk", "recent_outcomes", "unit", "latest_outcome", "flaky"
        )
        for digest, pk, recent, unit, outcome, flaky in rows:
            found[digests[digest]] = KnownCase(pk, recent, unit, outcome, flaky)

    for chunk in chunks(list(digests)):
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
            batch_size=CHUNK,
            ignore_conflicts=True,
        )
        for chunk in chunks([case_digest(test_id) for test_id in missing]):
            look_up(chunk)
    return found


def _refresh_cases(report: RunReport, run: Run, cases: dict[str, KnownCase], alias: str) -> None:
    """Set each test's latest duration and outcome, recent outcomes and flaky flag after this run.

    A test's outcomes in its last FLAKY_WINDOW runs are this run's in front of those its row
    kept, so flagging it never reads its results: a run costs the same however long the
    history. (Two runs that record the same test at the same moment may each keep only their
    own outcome; the shards of one run never share a test.)
    """
    every: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    for record in _unique_records(report):
        case = cases[record.id]
        recent = outcome_letters([record.outcome, *letter_outcomes(case.recent_outcomes)])
        every.append((case.pk, record.duration, recent))
        row = (case.pk, record.unit[:255], record.outcome, is_flaky(letter_outcomes(recent)))
        if row[1:] != (case.unit, case.latest_outcome, case.flaky):
            changed.append(row)
    # Every test's duration and recent outcomes change each run; its unit, outcome and flag
    # seldom do, and each column an UPDATE sets by row costs the server a CASE per row.
    update_rows(alias, Case, ("latest_duration", "recent_outcomes"), every, last_run=run.pk)
    update_rows(alias, Case, ("unit", "latest_outcome", "flaky"), changed)
