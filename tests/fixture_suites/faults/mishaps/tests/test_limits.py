"""Per-test limits from ``@concurrent_test_app.timeout`` on methods and classes.

Run with ``--timeout-per-test 2``: each test's comment says the limit it must get and why.
A test that must time out sleeps for an hour, so only its limit can end it; a test that must
pass outlasts the flag by a second and stays far inside its own limit, whatever the load.
"""

from __future__ import annotations

import time

from django.test import SimpleTestCase

import concurrent_test_app

LONG = 3600.0


class UndecoratedTests(SimpleTestCase):
    def test_quick(self) -> None:
        # 2 s from the flag; passes.
        time.sleep(0.1)

    def test_past_the_flag(self) -> None:
        # 2 s from the flag; times out.
        time.sleep(LONG)


class DecoratedMethodTests(SimpleTestCase):
    @concurrent_test_app.timeout(1)
    def test_tighter_than_the_flag(self) -> None:
        # 1 s from the method; times out after 1 s, not 2.
        time.sleep(LONG)

    @concurrent_test_app.timeout(120)
    def test_looser_than_the_flag(self) -> None:
        # 120 s from the method; passes although it outlasts the flag's 2 s.
        time.sleep(3)


@concurrent_test_app.timeout(120)
class LooseClassTests(SimpleTestCase):
    def test_takes_the_class_limit(self) -> None:
        # 120 s from the class; passes although it outlasts the flag's 2 s.
        time.sleep(3)

    @concurrent_test_app.timeout(1)
    def test_method_beats_class(self) -> None:
        # 1 s from the method, which beats the class's 120 s; times out.
        time.sleep(LONG)


@concurrent_test_app.timeout(1)
class TightClassTests(SimpleTestCase):
    def test_takes_the_class_limit(self) -> None:
        # 1 s from the class; times out after 1 s, not 2.
        time.sleep(LONG)
