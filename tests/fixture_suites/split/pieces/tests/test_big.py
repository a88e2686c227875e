"""The class that bounds the run: a timings file says so, and the run splits it.

Its tests pass, fail, error, skip, fail as expected and hold subtests, so that every kind of
outcome crosses from the pieces to the one result. ``SPLIT_FAIL=setUpClass`` makes its class
set-up fail (in every piece), ``SPLIT_FAIL=tearDownClass`` its class tear-down.
``SPLIT_EXIT=setUpClass`` or ``SPLIT_EXIT=tearDownClass`` ends the worker there instead, by
``os._exit(3)``, in every piece: a fixed point, no timing.
"""

from __future__ import annotations

import os
import unittest

from django.test import TestCase

from pieces.models import Seed

EXIT_CODE = 3


def fault(place: str) -> None:
    """Break the class fixture ``place`` as SPLIT_FAIL or SPLIT_EXIT asks."""
    if os.environ.get("SPLIT_EXIT") == place:
        os._exit(EXIT_CODE)
    if os.environ.get("SPLIT_FAIL") == place:
        what = "set-up" if place == "setUpClass" else "tear-down"
        raise RuntimeError(f"the class {what} broke")


class BigTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        fault("setUpClass")

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        fault("tearDownClass")

    @classmethod
    def setUpTestData(cls) -> None:
        Seed.objects.create(label="seed")

    def test_a_passes(self) -> None:
        self.assertEqual(Seed.objects.count(), 1)

    def test_b_fails(self) -> None:
        self.assertEqual(1, 2)

    def test_c_errors(self) -> None:
        raise ValueError("an error in a piece")

    @unittest.skip("skipped on purpose")
    def test_d_skipped(self) -> None:
        raise AssertionError("never runs")

    @unittest.expectedFailure
    def test_e_expected_failure(self) -> None:
        self.assertEqual(1, 2)

    def test_f_subtests(self) -> None:
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 1)

    def test_g_passes(self) -> None:
        Seed.objects.create(label="g")
        self.assertEqual(Seed.objects.count(), 2)

    def test_h_skips_itself(self) -> None:
        self.skipTest("skipped from inside")
