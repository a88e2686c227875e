"""A quick class first, then classes whose tests wait forever: only the global timeout ends it.

Run with ``--scheduler discovery --workers 2 --timeout-per-test 0``: worker 1 takes the quick
class, worker 2 the first blocked class, worker 1 the second; the third never starts.
"""

from __future__ import annotations

import threading

from django.test import SimpleTestCase


def wait_forever() -> None:
    threading.Event().wait()


class AQuickTests(SimpleTestCase):
    def test_one(self) -> None:
        self.assertEqual(1 + 1, 2)

    def test_two(self) -> None:
        self.assertEqual("a" * 2, "aa")


class BBlockedTests(SimpleTestCase):
    def test_a_waits(self) -> None:
        wait_forever()

    def test_then_this(self) -> None:  # after test_waits: never starts
        self.assertTrue(True)


class CBlockedTests(SimpleTestCase):
    def test_a_waits(self) -> None:
        wait_forever()


class DNeverStartedTests(SimpleTestCase):
    def test_queued(self) -> None:
        self.assertTrue(True)
