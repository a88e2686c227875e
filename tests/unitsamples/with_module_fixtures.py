"""Test classes (never run here) whose module has module fixtures."""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase, TransactionTestCase


def setUpModule() -> None:
    pass


class FirstTests(TestCase):
    def test_a(self) -> None:
        pass


class SecondTests(TransactionTestCase):
    def test_b(self) -> None:
        pass


class ThirdTests(SimpleTestCase):
    def test_c(self) -> None:
        pass
