"""Thirty ordinary tests: fifteen TestCase tests that write rows, fifteen SimpleTestCase tests."""

from __future__ import annotations

import time

from django.test import SimpleTestCase, TestCase

from mishaps.models import Entry

# A short pause per test, so that a run lasts long enough to be interrupted half way.
PAUSE = 0.1


class WritingBase:
    prefix = ""

    def write(self, count: int) -> None:
        time.sleep(PAUSE)
        Entry.objects.bulk_create(Entry(name=f"{self.prefix}-{i}", value=i) for i in range(count))
        self.assertEqual(Entry.objects.count(), count)
        self.assertEqual(
            sum(Entry.objects.values_list("value", flat=True)), count * (count - 1) // 2
        )

    def test_one(self) -> None:
        self.write(1)

    def test_two(self) -> None:
        self.write(2)

    def test_three(self) -> None:
        self.write(3)

    def test_update(self) -> None:
        self.write(4)
        Entry.objects.filter(value__gte=2).update(value=0)
        self.assertEqual(Entry.objects.filter(value=0).count(), 3)

    def test_delete(self) -> None:
        self.write(5)
        Entry.objects.filter(value__lt=3).delete()
        self.assertEqual(Entry.objects.count(), 2)


class WritingA(WritingBase, TestCase):
    prefix = "a"


class WritingB(WritingBase, TestCase):
    prefix = "b"


class WritingC(WritingBase, TestCase):
    prefix = "c"


class PlainBase:
    def pause(self) -> None:
        time.sleep(PAUSE)

    def test_arithmetic(self) -> None:
        self.pause()
        self.assertEqual(6 * 7, 42)

    def test_strings(self) -> None:
        self.pause()
        self.assertEqual("-".join("abc"), "a-b-c")

    def test_lists(self) -> None:
        self.pause()
        self.assertEqual(sorted([3, 1, 2]), [1, 2, 3])

    def test_dicts(self) -> None:
        self.pause()
        self.assertEqual(dict(zip("ab", (1, 2))), {"a": 1, "b": 2})

    def test_sets(self) -> None:
        self.pause()
        self.assertEqual({1, 2} | {2, 3}, {1, 2, 3})


class PlainA(PlainBase, SimpleTestCase):
    pass


class PlainB(PlainBase, SimpleTestCase):
    pass


class PlainC(PlainBase, SimpleTestCase):
    pass
