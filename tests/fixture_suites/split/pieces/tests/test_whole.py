"""Classes that must never be split, however long the timings file says they are."""

from __future__ import annotations

from django.test import TestCase, TransactionTestCase

from concurrent_test_app import no_split
from pieces.models import Seed


@no_split
class DecoratedTests(TestCase):
    def test_one(self) -> None:
        Seed.objects.create(label="one")

    def test_two(self) -> None:
        Seed.objects.create(label="two")

    def test_three(self) -> None:
        Seed.objects.create(label="three")


class AttributeTests(TestCase):
    concurrent_test_split = False

    def test_one(self) -> None:
        Seed.objects.create(label="one")

    def test_two(self) -> None:
        Seed.objects.create(label="two")

    def test_three(self) -> None:
        Seed.objects.create(label="three")


class FlushingTests(TransactionTestCase):
    def test_one(self) -> None:
        Seed.objects.create(label="one")

    def test_two(self) -> None:
        Seed.objects.create(label="two")

    def test_three(self) -> None:
        Seed.objects.create(label="three")
