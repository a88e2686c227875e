from django.test import TestCase, TransactionTestCase

from shelf.models import Author, Book


class SeededTests(TestCase):
    def test_seed_row_is_in_the_clone(self):
        self.assertEqual(Book.objects.get().title, "Seeded")

    def test_writes_stay_in_this_test(self):
        Author.objects.create(name="Temporary")
        self.assertEqual(Author.objects.count(), 2)


class SerializedTests(TransactionTestCase):
    serialized_rollback = True

    def test_seed_restored(self):
        self.assertEqual(Author.objects.filter(name="Seeded Author").count(), 1)
