"""A module with setUpModule holding a TestCase and a TransactionTestCase.

Serial Django runs the TransactionTestCase after every TestCase of the whole suite, so its
flush never reaches a TestCase. Keeping the module in one piece must not change that.
"""

from __future__ import annotations

from django.test import TestCase, TransactionTestCase, tag
from library.models import Book, Genre

STATE = {"set_up": 0}


def setUpModule():
    STATE["set_up"] += 1


@tag("fidelity_mixed_module")
class MixedModuleCaseTests(TestCase):
    def test_sees_migration_data(self):
        self.assertEqual(Genre.objects.count(), 3)


@tag("fidelity_mixed_module")
class MixedModuleTransactionTests(TransactionTestCase):
    def test_writes_and_is_flushed(self):
        Book.objects.create(title="flushed afterwards")
        self.assertEqual(Book.objects.count(), 1)
