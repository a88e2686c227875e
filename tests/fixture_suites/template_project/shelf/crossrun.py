"""Cases for the two-run tests: a run that pauses at a rendezvous while another run, or a build,
works on the same server. Run by label (shelf.crossrun.<Class>); discovery does not find them.

At the rendezvous a test writes its process id to the file CROSSRUN_READY names, then waits
until the file CROSSRUN_GO names exists. The pytest test creates that file once the other
process has reached the point it wants to test, so no sleep races another. With
CROSSRUN_CHECK_READY / CROSSRUN_CHECK_GO the system checks of a run pause the same way, while
its parent is connected to the template (see :func:`pause_in_checks`).
"""

import os
import time
from pathlib import Path

from django.test import TestCase, TransactionTestCase

from shelf.models import Author, Book

RENDEZVOUS_LIMIT = 120.0  # seconds; a test that never hears GO fails instead of hanging


def rendezvous(ready_variable: str = "CROSSRUN_READY", go_variable: str = "CROSSRUN_GO") -> None:
    ready, go = os.environ.get(ready_variable), os.environ.get(go_variable)
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
    """Waits at the rendezvous; with CROSSRUN_EXIT_AFTER its worker then dies, so that the
    worker that replaces it clones the template mid-run."""

    def test_write_then_wait(self):
        Author.objects.create(name="Flushed at the end")
        rendezvous()
        if os.environ.get("CROSSRUN_EXIT_AFTER"):
            os._exit(3)


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


def pause_in_checks(app_configs, databases=None, **kwargs):
    """Stay connected to the test databases while the checks run, until CROSSRUN_CHECK_GO
    exists: a run's set-up that is slow to leave its template, as a heavy project check is."""
    if not databases or not os.environ.get("CROSSRUN_CHECK_READY"):
        return []
    from django.db import connections

    for alias in databases:
        connections[alias].ensure_connection()
    rendezvous("CROSSRUN_CHECK_READY", "CROSSRUN_CHECK_GO")
    return []


class NextIdIsTheTemplates(TestCase):
    """A new row gets the id it gets in a fresh clone: the template's next one (as in serial)."""

    def test_new_row_id_follows_the_seed(self):
        seeded = Book.objects.get(title="Seeded")
        book = Book.objects.create(title="New", author=seeded.author, pages=1)
        self.assertEqual(book.pk, seeded.pk + 1)


class SeesMarker(TestCase):
    """Passes only on the very database the ready-clone test marked (a bookkeeping row no
    copy has)."""

    def test_marker_row_is_there(self):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM concurrent_test_template WHERE name = 'ready_marker'"
            )
            self.assertEqual(cursor.fetchone()[0], 1)
