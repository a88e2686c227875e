"""Timing history: one row per run, per test of a run, per work unit of a run and per worker.

The history lives in the project's real database (or the alias named by
``CONCURRENT_TEST_HISTORY_DATABASE``). The scheduler reads :class:`UnitTiming` to hand out the
longest units first; the admin reads everything to draw its charts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from concurrent_test_app.reports.records import OUTCOMES

logger = logging.getLogger(__name__)

OUTCOME_CHOICES = [(outcome, outcome.replace("_", " ")) for outcome in OUTCOMES]

# A test is flaky when its outcome changed within this many of its most recent runs. Each Case
# keeps that many outcomes itself, so recording a run never reads the growing CaseResult table.
FLAKY_WINDOW = 10
# Case.recent_outcomes spells each outcome with one letter, newest first ("pfp": passed in the
# latest run, failed in the one before, passed before that).
OUTCOME_LETTERS = {
    "passed": "p",
    "failed": "f",
    "error": "e",
    "skipped": "s",
    "expected_failure": "x",
    "unexpected_success": "u",
    "not_run": "n",
}
# An outcome this app does not know (none today) is kept as such: neither passing nor failing.
UNKNOWN_OUTCOME = "?"
_OUTCOME_OF_LETTER = {letter: outcome for outcome, letter in OUTCOME_LETTERS.items()}


class Run(models.Model):
    """One ``concurrent_test`` run (or one shard of a CI run)."""

    class Outcome(models.TextChoices):
        PASSED = "passed", "passed"
        FAILED = "failed", "failed"
        TIMED_OUT = "timed_out", "timed out"
        INTERRUPTED = "interrupted", "interrupted"

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    wall_seconds = models.FloatField(default=0.0)
    workers = models.PositiveIntegerField(default=0)
    shard = models.CharField(max_length=20, blank=True, help_text="K/N when the run was a shard.")
    vendor = models.CharField(max_length=30, blank=True)
    template_fingerprint = models.CharField(max_length=255, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)
    git_branch = models.CharField(max_length=255, blank=True)
    host = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, db_index=True)
    exit_status = models.SmallIntegerField(default=0)
    tests_run = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    expected_failures = models.PositiveIntegerField(default=0)
    unexpected_successes = models.PositiveIntegerField(default=0)
    not_run = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "test run"
        verbose_name_plural = "test runs"

    def __str__(self) -> str:
        started = self.started_at
        if timezone.is_aware(started):
            started = timezone.localtime(started)
        when = started.strftime("%Y-%m-%d %H:%M:%S")
        shard = f" shard {self.shard}" if self.shard else ""
        return f"Run {self.pk} at {when}{shard} ({self.outcome})"


class Case(models.Model):
    """One test id as history knows it, with what its latest run said.

    The latest values, the recent outcomes and the flaky flag are refreshed for the tests of
    every recorded run, so the admin can list and filter thousands of tests, and a run can flag
    its flaky tests, without reading their whole history.
    """

    # A test id has no length limit (subtest parameters are part of it), and MySQL cannot index
    # long text uniquely: the unique key is the id's SHA-256.
    test_id = models.TextField()
    digest = models.CharField(max_length=64, unique=True, editable=False)
    class_name = models.CharField(max_length=255, blank=True, db_index=True)
    unit = models.CharField(max_length=255, blank=True)
    latest_duration = models.FloatField(default=0.0)
    latest_outcome = models.CharField(max_length=20, choices=OUTCOME_CHOICES, blank=True)
    last_run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flaky = models.BooleanField(
        default=False,
        help_text="Both a passing and a failing outcome among the test's most recent runs.",
    )
    recent_outcomes = models.CharField(
        max_length=FLAKY_WINDOW,
        blank=True,
        editable=False,
        help_text="One letter per outcome of the test's most recent runs, newest first.",
    )

    class Meta:
        ordering = ["test_id"]
        verbose_name = "test"
        verbose_name_plural = "tests"

    def __str__(self) -> str:
        return self.test_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.digest = case_digest(self.test_id)
        super().save(*args, **kwargs)


def case_digest(test_id: str) -> str:
    """Return the unique key of a test id: its SHA-256 in hex."""
    return hashlib.sha256(test_id.encode()).hexdigest()


def outcome_letters(newest_first: Iterable[str]) -> str:
    """Return the value of Case.recent_outcomes for these outcomes (the newest FLAKY_WINDOW)."""
    letters = "".join(OUTCOME_LETTERS.get(outcome, UNKNOWN_OUTCOME) for outcome in newest_first)
    return letters[:FLAKY_WINDOW]


def letter_outcomes(letters: str) -> list[str]:
    """Return the outcomes a Case.recent_outcomes value stands for, newest first."""
    return [_OUTCOME_OF_LETTER.get(letter, UNKNOWN_OUTCOME) for letter in letters]


class CaseResult(models.Model):
    """What one test did in one run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="results")
    duration = models.FloatField(default=0.0)
    outcome = models.CharField(max_length=20, choices=OUTCOME_CHOICES)
    worker = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-run_id", "case_id"]
        verbose_name = "test result"
        verbose_name_plural = "test results"
        constraints = [
            models.UniqueConstraint(fields=["run", "case"], name="concurrent_test_result_once")
        ]
        # A run's start-up reads each test's newest results: this index finds them without
        # reading the test's older ones, so the read costs the same however long the history.
        indexes = [models.Index(fields=["case", "run"], name="concurrent_test_result_recent")]

    def __str__(self) -> str:
        return f"{self.case_id} in run {self.run_id}: {self.outcome}"


class UnitTiming(models.Model):
    """How long one work unit took in one run; ``seconds`` includes ``setup_seconds``.

    ``setup_seconds`` is the class-level set-up (setUpClass, setUpTestData, setUpModule), kept
    apart so that the time a unit costs is never mistaken for the time its tests take.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="unit_timings")
    key = models.CharField(max_length=255, db_index=True)
    worker = models.PositiveIntegerField(null=True, blank=True)
    seconds = models.FloatField(default=0.0)
    setup_seconds = models.FloatField(default=0.0)
    tests = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-run_id", "key"]
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="concurrent_test_unit_once")
        ]
        # As CaseResult's: each unit's newest timings without reading its older ones.
        indexes = [models.Index(fields=["key", "run"], name="concurrent_test_unit_recent")]

    def __str__(self) -> str:
        return f"{self.key}: {self.seconds:.3f}s"


class WorkerStat(models.Model):
    """One worker slot of a run: its load, its memory peak and the units it ran, in order.

    ``timeline`` is a list of ``[unit key, start offset, end offset]`` in seconds from the start
    of the run: the admin draws it as the run's per-worker timeline.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="worker_stats")
    slot = models.PositiveIntegerField()
    database = models.CharField(max_length=255, blank=True)
    tests = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0)
    busy_seconds = models.FloatField(default=0.0)
    setup_seconds = models.FloatField(default=0.0)
    queries = models.PositiveIntegerField(default=0)
    memory_peak_mb = models.FloatField(default=0.0)
    restarts = models.PositiveIntegerField(default=0)
    recycles = models.PositiveIntegerField(default=0)
    timeline = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["run", "slot"], name="concurrent_test_worker_once")
        ]

    def __str__(self) -> str:
        return f"worker {self.slot} of run {self.run_id}"
