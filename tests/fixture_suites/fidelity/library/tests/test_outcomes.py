"""Plain outcomes: pass, failure, error, skips, expected failures and subtests."""

from __future__ import annotations

import unittest

from django.test import SimpleTestCase


class OutcomeTests(SimpleTestCase):
    def test_pass(self):
        self.assertEqual(1 + 1, 2)

    def test_failure(self):
        self.assertEqual(1 + 1, 3, "fidelity: deliberate failure")

    def test_error(self):
        raise ValueError("fidelity: deliberate error")

    @unittest.skip("fidelity: skipped by decorator on a method")
    def test_skip_decorator(self):
        raise AssertionError("a skipped test must not run")

    def test_skip_in_test(self):
        self.skipTest("fidelity: skipTest() in the test")

    @unittest.expectedFailure
    def test_expected_failure_that_fails(self):
        self.assertEqual(1, 2)

    @unittest.expectedFailure
    def test_expected_failure_that_passes(self):
        self.assertEqual(1, 1)


class SubTestTests(SimpleTestCase):
    def test_subtests_fail_and_error(self):
        for i in range(4):
            with self.subTest(i=i):
                if i == 1:
                    self.assertEqual(i, 10, "fidelity: failing subtest")
                if i == 2:
                    raise KeyError("fidelity: erroring subtest")

    def test_subtests_only_fail(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 2, "fidelity: failing subtest")

    def test_subtests_all_pass(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertGreaterEqual(i, 0)


@unittest.skip("fidelity: skipped by decorator on a class")
class SkippedClassTests(SimpleTestCase):
    def test_one(self):
        raise AssertionError("a skipped class must not run")

    def test_two(self):
        raise AssertionError("a skipped class must not run")


class SkipInSetUpTests(SimpleTestCase):
    def setUp(self):
        super().setUp()
        self.skipTest("fidelity: skipTest() in setUp")

    def test_one(self):
        raise AssertionError("setUp skipped this test")

    def test_two(self):
        raise AssertionError("setUp skipped this test")


class SkipInSetUpClassTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        raise unittest.SkipTest("fidelity: skipTest in setUpClass")

    def test_one(self):
        raise AssertionError("setUpClass skipped this class")

    def test_two(self):
        raise AssertionError("setUpClass skipped this class")
