"""Tests that use the database: TestCase, TransactionTestCase, serialized_rollback, two aliases."""

from __future__ import annotations

from django.db import connections
from django.test import TestCase, TransactionTestCase
from ledger.models import Entry

from library.models import Book, Genre


class BookTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.fiction = Genre.objects.get(name="fiction")
        cls.book = Book.objects.create(title="Dune", genre=cls.fiction)

    def test_class_data(self):
        self.assertEqual(Book.objects.get().genre, self.fiction)

    def test_data_migration_rows_are_visible(self):
        # A TestCase runs on the database as migrations left it: a TransactionTestCase's
        # flush must never reach it (serial runs every TestCase before them).
        self.assertEqual(
            sorted(Genre.objects.values_list("name", flat=True)),
            ["fiction", "history", "poetry"],
        )

    def test_changes_roll_back(self):
        Book.objects.all().delete()
        self.assertFalse(Book.objects.exists())

    def test_changes_rolled_back(self):
        self.assertEqual(Book.objects.count(), 1)


class BookTransactionTests(TransactionTestCase):
    def test_create_and_count(self):
        Book.objects.create(title="one")
        Book.objects.create(title="two")
        self.assertEqual(Book.objects.count(), 2)

    def test_starts_empty(self):
        self.assertFalse(Book.objects.exists())

    def test_failure_inside_transaction_test(self):
        Book.objects.create(title="three")
        self.assertEqual(Book.objects.count(), 0, "fidelity: failure in a TransactionTestCase")


class SerializedRollbackTests(TransactionTestCase):
    serialized_rollback = True

    def test_migration_data_present_first(self):
        self.assertEqual(Genre.objects.count(), 3)
        Genre.objects.all().delete()

    def test_migration_data_present_second(self):
        self.assertEqual(Genre.objects.count(), 3)
        Genre.objects.all().delete()


class TwoDatabaseTests(TestCase):
    databases = {"default", "other"}

    def test_write_to_both(self):
        Book.objects.create(title="on default")
        Entry.objects.using("other").create(note="on other", amount=3)
        self.assertEqual(Book.objects.using("default").count(), 1)
        self.assertEqual(Entry.objects.using("other").count(), 1)
        self.assertFalse(Entry.objects.using("default").exists())
        self.assertFalse(Book.objects.using("other").exists())

    def test_aliases_are_distinct_databases(self):
        names = {connections[alias].settings_dict["NAME"] for alias in ("default", "other")}
        self.assertEqual(len(names), 2)

    def test_other_has_migration_data(self):
        self.assertEqual(Genre.objects.using("other").count(), 3)
