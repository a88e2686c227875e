"""Five tests that misbehave; only the first three may be errors (issue 6, "Done when").

Each fault sits at the start of a class that has a healthy test after it, so that the run also
shows the rest of a unit being queued again after its worker died or was killed.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time

from django.test import SimpleTestCase, TestCase

from concurrent_test_app import timeout
from mishaps.models import Entry

# Issue 6: "one that holds 1.5 GB for two seconds". Filling bytes touches every page, so the
# memory is resident, not just reserved.
HELD_BYTES = 1536 * 1024 * 1024
HOLD_SECONDS = 2.0


class ExitTests(TestCase):
    def test_a_exits_with_code_3(self) -> None:
        Entry.objects.create(name="before the exit")
        os._exit(3)

    def test_b_runs_on_a_fresh_clone(self) -> None:
        # The replacement worker's clone holds the template's rows only: none of this table.
        Entry.objects.create(name="after the exit")
        self.assertEqual(Entry.objects.count(), 1)


class SegfaultTests(SimpleTestCase):
    def test_a_segfaults(self) -> None:
        ctypes.string_at(0)

    def test_b_runs_after_the_segfault(self) -> None:
        self.assertEqual(sum(range(10)), 45)


class HangTests(SimpleTestCase):
    def test_a_sleeps_for_an_hour(self) -> None:
        time.sleep(3600)

    def test_b_runs_after_the_hang(self) -> None:
        self.assertTrue(True)


class MemoryTests(SimpleTestCase):
    # Allocating 1.5 GB takes 1 to 5 s on a loaded 2-core machine: its own generous limit, so
    # that its verdict never depends on the load (the hang is what --timeout-per-test 5 is for).
    @timeout(300)
    def test_holds_one_and_a_half_gigabytes(self) -> None:
        block = b"\x01" * HELD_BYTES
        time.sleep(HOLD_SECONDS)
        self.assertEqual(len(block), HELD_BYTES)


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.05)


class ThreadTests(SimpleTestCase):
    def test_leaves_a_thread_running(self) -> None:
        # Never stopped: the thread outlives the test, as a careless test's would.
        thread = threading.Thread(target=_spin, args=(threading.Event(),), daemon=True)
        thread.start()
        self.assertTrue(thread.is_alive())
