"""Tests whose limits come from their history under ``--adaptive-timeouts``.

The acceptance test seeds the history (``manage.py seed_test_history``) with the p95 durations
in ``HISTORY_P95`` and runs with ``--timeout-per-test 60``, an adaptive floor of 1 s and the
default multiple of 10, so the limits are: quick max(1, 10 x 0.05) = 1 s, moderate 10 x 0.15 =
1.5 s, slow 10 x 6 = 60 s, no history 60 s (the flag), decorated 120 s (the decorator beats
history, which would give 1 s).

Nothing races the clock: a test that must time out waits for an hour, so only its limit ends
it; a test that must pass takes 2 s, past the 1 and 1.5 s limits a wrong rule would give it
and far inside its own. Without ``--adaptive-timeouts`` the hour-long ones run into the flag.
"""

from __future__ import annotations

import time

from django.test import SimpleTestCase

import concurrent_test_app

MODULE = "mishaps.tests.test_adaptive."
HISTORY_P95 = {
    f"{MODULE}UsuallyQuickTests.test_sleeps": 0.05,
    f"{MODULE}UsuallyModerateTests.test_sleeps": 0.15,
    f"{MODULE}UsuallySlowTests.test_sleeps": 6.0,
    f"{MODULE}DecoratedTests.test_sleeps": 0.01,
}
HOUR = 3600.0


class UsuallyQuickTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(HOUR)


class UsuallyModerateTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(HOUR)


class UsuallySlowTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(2)


class WithoutHistoryTests(SimpleTestCase):
    def test_sleeps(self) -> None:
        time.sleep(2)


class DecoratedTests(SimpleTestCase):
    @concurrent_test_app.timeout(120)
    def test_sleeps(self) -> None:
        time.sleep(2)
