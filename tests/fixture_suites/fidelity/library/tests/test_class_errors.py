"""Errors outside the tests: setUpClass, setUpTestData and tearDownClass."""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase

from library.models import Book


class SetUpClassErrorTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        raise RuntimeError("fidelity: error in setUpClass")

    def test_one(self):
        pass

    def test_two(self):
        pass


class SetUpTestDataErrorTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        Book.objects.create(title="never kept")
        raise RuntimeError("fidelity: error in setUpTestData")

    def test_one(self):
        pass

    def test_two(self):
        pass


class TearDownClassErrorTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.book = Book.objects.create(title="class data")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        raise RuntimeError("fidelity: error in tearDownClass")

    def test_one(self):
        self.assertEqual(Book.objects.get().title, "class data")

    def test_two(self):
        self.assertEqual(self.book.title, "class data")
