"""Tests whose limits come from their history under ``--adaptive-timeouts``.

The acceptance test seeds the history (``manage.py seed_test_history``) with the p95 durations
in ``HISTORY_P95`` and runs with ``--timeout-per-test 20``, an adaptive floor of 1 s and the
default multiple of 10, so the limits are: quick max(1, 10 x 0.05) = 1 s, moderate 10 x 0.15 =
1.5 s, slow 10 x 0.4 = 4 s, no history 20 s (the flag), decorated 6 s (the decorator beats
history, which would give 1 s). Without ``--adaptive-timeouts`` every one of them passes.
"""

from __future__ import annotations

import time

from django.test import SimpleTestCase

import concurrent_test_app

MODULE = "mishaps.tests.test_adaptive."
HISTORY_P95 = {
    f"{MODULE}UsuallyQuickTests.test_sleeps": 0.05,
    f"{MODULE}UsuallyModerateTests.test_sleeps": 0.15,
    f"{MODULE}UsuallySlowTests.test_sleeps": 0.4,
    f"{MODULE}DecoratedTests.test_sleeps": 0.01,
}


class UsuallyQuickTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(2.5)


class UsuallyModerateTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(2.5)


class UsuallySlowTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(2)


class WithoutHistoryTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(2)


class DecoratedTests(SimpleTestCase):
    @concurrent_test_app.timeout(6)
    def test_sleeps(self) -> None:
        time.sleep(2)
