"""A short class, so that a run has a second unit for its second worker."""

from __future__ import annotations

from django.test import SimpleTestCase


class SmallTests(SimpleTestCase):
    def test_one(self) -> None:
        self.assertTrue(True)

    def test_two(self) -> None:
        self.assertFalse(False)
