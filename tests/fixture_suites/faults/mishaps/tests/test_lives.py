"""Two units whose workers live for different times, whatever the machine's speed.

With two workers, each takes one unit. The quick unit's worker is told to stop as soon as it
is done (nothing is left to hand out); the other unit's test returns only once that worker is
gone, so its worker lives strictly longer.
"""

from __future__ import annotations

import os
import time

import psutil
from django.test import SimpleTestCase

# A safety net only: the other worker is gone milliseconds after its unit.
WAIT_AT_MOST = 60.0


def others_alive() -> list[psutil.Process]:
    me = psutil.Process()
    parent = me.parent()
    if parent is None:
        return []
    alive = []
    for sibling in parent.children():
        try:
            if sibling.pid != me.pid and sibling.status() != psutil.STATUS_ZOMBIE:
                alive.append(sibling)
        except psutil.NoSuchProcess:
            continue
    return alive


class OutlivesTheOtherWorkerTests(SimpleTestCase):
    def test_returns_once_the_other_worker_is_gone(self) -> None:
        if not os.environ.get("FAULTS_LIVES"):
            return
        deadline = time.monotonic() + WAIT_AT_MOST
        while others_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(others_alive(), [])


class QuickTests(SimpleTestCase):
    def test_quick(self) -> None:
        self.assertTrue(True)
