"""Twelve one-second tests in six classes, so that a run can be interrupted half way."""

from __future__ import annotations

import time

from django.test import SimpleTestCase, TestCase

from mishaps.models import Entry

NAP = 1.0


class SlowBase:
    def test_first(self) -> None:
        Entry.objects.create(name=type(self).__name__)
        time.sleep(NAP)
        self.assertEqual(Entry.objects.count(), 1)

    def test_second(self) -> None:
        time.sleep(NAP)
        self.assertEqual(Entry.objects.count(), 0)


class SlowA(SlowBase, TestCase):
    pass


class SlowB(SlowBase, TestCase):
    pass


class SlowC(SlowBase, TestCase):
    pass


class NapBase:
    def test_first(self) -> None:
        time.sleep(NAP)

    def test_second(self) -> None:
        time.sleep(NAP)


class NapA(NapBase, SimpleTestCase):
    pass


class NapB(NapBase, SimpleTestCase):
    pass


class NapC(NapBase, SimpleTestCase):
    pass
