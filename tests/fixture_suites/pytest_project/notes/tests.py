"""Tests of every kind pytest-django runs: TestCase, TransactionTestCase, functions."""

from __future__ import annotations

import os

import pytest
from django.test import SimpleTestCase, TestCase, TransactionTestCase

from notes.models import Note


class SeededTests(TestCase):
    """Wants the rows the data migration wrote: no transactional test may have flushed them."""

    def test_seed_rows(self) -> None:
        self.assertEqual(Note.objects.count(), 3)

    def test_write(self) -> None:
        Note.objects.create(text="new")
        self.assertEqual(Note.objects.count(), 4)


class FlushingTests(TransactionTestCase):
    """Leaves the clone flushed behind it, as every TransactionTestCase does."""

    def test_flushes(self) -> None:
        Note.objects.create(text="kept until the flush")
        self.assertGreaterEqual(Note.objects.count(), 1)


class CrashTests(TestCase):
    def test_before(self) -> None:
        self.assertTrue(Note.objects.exists())

    def test_crash(self) -> None:
        marker = os.environ.get("PYTEST_PROJECT_CRASH")
        if marker and not os.path.exists(marker):
            open(marker, "w").close()  # once: a test that xdist runs again must not crash again
            os._exit(3)  # a segfault or the OOM killer, as a worker sees it

    def test_failing(self) -> None:
        self.assertEqual(Note.objects.count(), 99)


class PlainTests(SimpleTestCase):
    def test_plain(self) -> None:
        self.assertEqual(1 + 1, 2)

    @pytest.mark.skip(reason="skipped on purpose")
    def test_skipped(self) -> None:
        raise AssertionError


@pytest.mark.django_db
def test_function_with_db() -> None:
    assert Note.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_function_transactional() -> None:
    Note.objects.create(text="x")


def test_function_without_db() -> None:
    assert True
