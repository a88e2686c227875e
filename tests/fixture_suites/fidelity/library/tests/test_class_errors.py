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


class CleanupErrorTests(SimpleTestCase):
    """A test that fails and whose cleanup errors too; a class cleanup that errors."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.addClassCleanup(cls.fail_class_cleanup)

    @classmethod
    def fail_class_cleanup(cls):
        raise RuntimeError("fidelity: error in a class cleanup")

    def fail_cleanup(self):
        raise RuntimeError("fidelity: error in a cleanup")

    def test_failure_then_cleanup_error(self):
        self.addCleanup(self.fail_cleanup)
        self.fail("fidelity: failure before a cleanup error")

    def test_pass(self):
        pass
