"""One long class, discovered last: 0.3 s of class set-up and three 0.5 s tests."""

from __future__ import annotations

import time

from django.test import TestCase

from sleepy.models import Nap


class LongTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        time.sleep(0.3)
        Nap.objects.create(seconds=0.3)

    def test_first(self) -> None:
        time.sleep(0.5)
        self.assertEqual(Nap.objects.count(), 1)

    def test_second(self) -> None:
        time.sleep(0.5)

    def test_third(self) -> None:
        time.sleep(0.5)
