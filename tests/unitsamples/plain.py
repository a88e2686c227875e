"""Test classes (never run here) without module fixtures."""

from __future__ import annotations

import unittest

from django.test import SimpleTestCase, TestCase, TransactionTestCase


class DataTests(TestCase):
    def test_one(self) -> None:
        pass

    def test_two(self) -> None:
        pass


class FlushTests(TransactionTestCase):
    def test_flush(self) -> None:
        pass


class NoDatabaseTests(SimpleTestCase):
    def test_simple(self) -> None:
        pass


class PlainTests(unittest.TestCase):
    def test_plain(self) -> None:
        pass
