"""A TransactionTestCase that empties its database, and a TestCase that needs a migration's row.

In serial the TestCase runs first and finds the row. Concurrently, whatever worker runs the
TestCase must have a database no TransactionTestCase emptied, also after that worker was
recycled (--max-units-per-worker) or replaced.
"""

from __future__ import annotations

from django.test import TestCase, TransactionTestCase

from mishaps.models import Entry, Seed

SEEDED = "seeded by a migration"


class FlushingTests(TransactionTestCase):
    def test_writes_then_flushes(self) -> None:
        Entry.objects.create(name="flushed at the end of this test")
        self.assertTrue(Seed.objects.filter(name=SEEDED).exists())


class SeededRowTests(TestCase):
    def test_reads_the_seeded_row(self) -> None:
        self.assertEqual(list(Seed.objects.values_list("name", flat=True)), [SEEDED])
