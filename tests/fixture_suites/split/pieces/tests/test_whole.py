"""Classes that must never be split, however long the timings file says they are."""

from __future__ import annotations

from django.test import TestCase, TransactionTestCase

from concurrent_test_app import no_split
from pieces.models import Seed


class ThreeWrites:
    """Three tests that each write a row: what each class below holds."""

    def test_one(self) -> None:
        Seed.objects.create(label="one")

    def test_two(self) -> None:
        Seed.objects.create(label="two")

    def test_three(self) -> None:
        Seed.objects.create(label="three")


@no_split
class DecoratedTests(ThreeWrites, TestCase):
    pass


class AttributeTests(ThreeWrites, TestCase):
    concurrent_test_split = False


class FlushingTests(ThreeWrites, TransactionTestCase):
    pass
