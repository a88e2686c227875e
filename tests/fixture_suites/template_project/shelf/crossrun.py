"""Cases for the two-run tests: a run that pauses at a rendezvous while another run, or a build,
works on the same server. Run by label (shelf.crossrun.<Class>); discovery does not find them.

At the rendezvous a test writes its process id to the file CROSSRUN_READY names, then waits
until the file CROSSRUN_GO names exists. The pytest test creates that file once the other
process has reached the point it wants to test, so no sleep races another.
"""

import os
import time
from pathlib import Path

from django.test import TestCase, TransactionTestCase

from shelf.models import Author, Book

RENDEZVOUS_LIMIT = 120.0  # seconds; a test that never hears GO fails instead of hanging


def rendezvous() -> None:
    ready, go = os.environ.get("CROSSRUN_READY"), os.environ.get("CROSSRUN_GO")
    if ready:
        Path(ready).write_text(str(os.getpid()))
    if not go:
        return
    deadline = time.monotonic() + RENDEZVOUS_LIMIT
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{go} was never created")
        time.sleep(0.05)


class FlushesThenWaits(TransactionTestCase):
    """Empties its clone when it ends, so a TestCase after it needs a fresh clone (mid-run)."""

    def test_write_then_wait(self):
        Author.objects.create(name="Flushed at the end")
        rendezvous()


class ReadsSeed(TestCase):
    def test_seed_row(self):
        self.assertEqual(Book.objects.get().title, "Seeded")


class WaitsThenReadsSeed(TestCase):
    def test_seed_row_after_the_rendezvous(self):
        rendezvous()
        self.assertEqual(Book.objects.get().title, "Seeded")
        Author.objects.create(name="Written in this test only")
        self.assertEqual(Author.objects.count(), 2)


class Flushes(TransactionTestCase):
    def test_write(self):
        Author.objects.create(name="Flushed at the end")
        self.assertEqual(Author.objects.filter(name="Flushed at the end").count(), 1)
