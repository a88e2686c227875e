"""Django's serial runner, recording every test id the way the JSON report lists them.

This is the reference side of the fidelity check. It is written from unittest's behaviour alone
and deliberately imports nothing from ``concurrent_test_app``, so that the comparison is real.

Use it as ``manage.py test --testrunner=fidelity_project.serial_runner.RecordingRunner
--record PATH``. PATH receives ``{"summary": {...}, "tests": [{"id", "outcome", "message"}]}``:

- an id gets the outcome unittest reported for it; when unittest reported several (a failing
  test whose cleanup errors, a parent whose subtests failed), the worst one wins;
- a failing or erroring subtest is its own entry (``<test id> (i=1)``) and its parent takes the
  worst outcome of its subtests; passing subtests have no entry;
- a class- or module-level error or skip is an entry under unittest's pseudo-id
  (``setUpClass (module.Class)``); the tests that never started are ``not_run``;
- ``summary`` holds the lengths of the result's lists, as the report's summary must.
"""

from __future__ import annotations

import json
import unittest
from pathlib import Path
from typing import Any

from django.test.runner import DiscoverRunner
from django.test.utils import iter_test_cases

# Worst last. Only "error over failed" is the report's contract; the rest just has to be total.
SEVERITY = [
    "not_run",
    "passed",
    "skipped",
    "expected_failure",
    "unexpected_success",
    "failed",
    "error",
]


class RecordingResult(unittest.TextTestResult):
    """A TextTestResult that also remembers one outcome per id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, str] = {}
        self.messages: dict[str, list[str]] = {}
        self.started: list[str] = []

    def _note(self, test_id: str, outcome: str, message: str = "") -> None:
        previous = self.outcomes.get(test_id, "not_run")
        if SEVERITY.index(outcome) >= SEVERITY.index(previous):
            self.outcomes[test_id] = outcome
        else:
            self.outcomes.setdefault(test_id, previous)
        if message:
            self.messages.setdefault(test_id, []).append(message)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self.started.append(test.id())
        self.outcomes.setdefault(test.id(), "not_run")

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._note(test.id(), "passed")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._note(test.id(), "failed", self.failures[-1][1])

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._note(test.id(), "error", self.errors[-1][1])

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._note(test.id(), "skipped", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._note(test.id(), "expected_failure", self.expectedFailures[-1][1])

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._note(test.id(), "unexpected_success")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is None:
            return
        failed = issubclass(err[0], test.failureException)
        outcome = "failed" if failed else "error"
        message = (self.failures if failed else self.errors)[-1][1]
        self._note(subtest.id(), outcome, message)
        self._note(test.id(), outcome)

    def entries(self, suite_ids: list[str]) -> list[dict[str, str]]:
        """Return one entry per id, the suite's tests that never started as ``not_run``."""
        ids = list(self.outcomes)
        ids += [test_id for test_id in suite_ids if test_id not in self.outcomes]
        return [
            {
                "id": test_id,
                "outcome": self.outcomes.get(test_id, "not_run"),
                "message": "\n".join(self.messages.get(test_id, [])),
            }
            for test_id in ids
        ]

    def summary(self) -> dict[str, int]:
        """Return the counts, each the length of the matching list on this result."""
        return {
            "tests_run": self.testsRun,
            "failures": len(self.failures),
            "errors": len(self.errors),
            "skipped": len(self.skipped),
            "expected_failures": len(self.expectedFailures),
            "unexpected_successes": len(self.unexpectedSuccesses),
        }


class RecordingRunner(DiscoverRunner):
    """DiscoverRunner, serial, that writes what its result recorded to ``--record PATH``."""

    def __init__(self, record: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--record", help="Write every test id and its outcome as JSON here.")

    def get_resultclass(self) -> Any:
        return RecordingResult

    def run_suite(self, suite: unittest.TestSuite, **kwargs: Any) -> Any:
        suite_ids = [test.id() for test in iter_test_cases(suite)]
        result = super().run_suite(suite, **kwargs)
        if self.record:
            entries = result.entries(suite_ids)
            counts = result.summary()
            for outcome in ("passed", "not_run"):
                counts[outcome] = sum(1 for entry in entries if entry["outcome"] == outcome)
            payload = {"summary": counts, "tests": entries}
            Path(self.record).write_text(json.dumps(payload, indent=2))
        return result
