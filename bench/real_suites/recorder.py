"""A test runner that records every test id's outcome and writes them to a JSON file.

Imported inside a real project's own virtualenv (``--testrunner recorder.RecordingRunner``, with
this folder on ``PYTHONPATH``), so it needs nothing but Django. It subclasses the project's own
``TEST_RUNNER`` (``REAL_SUITES_BASE_RUNNER`` beats it), so the project's hooks still run. With
``--parallel``, Django replays each worker's events onto the parent's result object, so the
recording result class sees every test of every worker.
"""

from __future__ import annotations

import json
import os
import unittest
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test.runner import DiscoverRunner
from django.utils.module_loading import import_string

RECORD_ENV = "REAL_SUITES_RECORD"
BASE_RUNNER_ENV = "REAL_SUITES_BASE_RUNNER"

# Worst first: a test reported twice (a failure, then an error in a cleanup) keeps the worse.
SEVERITY = ("error", "failed", "unexpected_success", "passed", "expected_failure", "skipped")


def worse(old: str | None, new: str) -> str:
    """Return the worse of two outcomes."""
    if old is None:
        return new
    return old if SEVERITY.index(old) <= SEVERITY.index(new) else new


class RecordingMixin:
    """Keep the outcome of each ``test.id()`` in ``self.outcomes``."""

    outcomes: dict[str, str]

    def _record(self, test: Any, outcome: str) -> None:
        if not hasattr(self, "outcomes"):
            self.outcomes = {}
        test_id = test.id()
        self.outcomes[test_id] = worse(self.outcomes.get(test_id), outcome)

    def addSuccess(self, test: Any) -> None:  # noqa: N802 (unittest's name)
        super().addSuccess(test)  # type: ignore[misc]
        self._record(test, "passed")

    def addFailure(self, test: Any, err: Any) -> None:  # noqa: N802
        super().addFailure(test, err)  # type: ignore[misc]
        self._record(test, "failed")

    def addError(self, test: Any, err: Any) -> None:  # noqa: N802
        super().addError(test, err)  # type: ignore[misc]
        self._record(test, "error")

    def addSkip(self, test: Any, reason: str) -> None:  # noqa: N802
        super().addSkip(test, reason)  # type: ignore[misc]
        self._record(test, "skipped")

    def addExpectedFailure(self, test: Any, err: Any) -> None:  # noqa: N802
        super().addExpectedFailure(test, err)  # type: ignore[misc]
        self._record(test, "expected_failure")

    def addUnexpectedSuccess(self, test: Any) -> None:  # noqa: N802
        super().addUnexpectedSuccess(test)  # type: ignore[misc]
        self._record(test, "unexpected_success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:  # noqa: N802
        super().addSubTest(test, subtest, err)  # type: ignore[misc]
        if err is None:
            return
        # As concurrent_test's report does: a failing subtest is an entry of its own, and its
        # parent (which unittest then reports no success for) takes the worst of its subtests.
        failed = issubclass(err[0], test.failureException)
        outcome = "failed" if failed else "error"
        self._record(subtest, outcome)
        self._record(test, outcome)


def _base_runner() -> type[DiscoverRunner]:
    path = os.environ.get(BASE_RUNNER_ENV) or settings.TEST_RUNNER
    runner = import_string(path)
    if not (isinstance(runner, type) and issubclass(runner, DiscoverRunner)):
        return DiscoverRunner
    return runner


class RecordingRunner(_base_runner()):  # type: ignore[misc]
    """Run the suite as the project's runner does and write each id's outcome to a file."""

    def get_resultclass(self) -> type[unittest.TextTestResult]:
        base = super().get_resultclass() or unittest.TextTestResult
        return type("Recording" + base.__name__, (RecordingMixin, base), {})

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        result = super().run_suite(suite, **kwargs)
        path = os.environ.get(RECORD_ENV)
        if path:
            record = {
                "tests_run": result.testsRun,
                "outcomes": getattr(result, "outcomes", {}),
                "successful": result.wasSuccessful(),
            }
            Path(path).write_text(json.dumps(record, indent=1, sort_keys=True))
        return result
