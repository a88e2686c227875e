"""Faults outside test methods, triggered only when the environment asks for them.

``FAULTS_OUTSIDE`` lists ``place:kind`` pairs separated by commas (``all`` for every pair): the
place is where the fault happens (``setUpClass``, ``tearDownClass``, ``setUpModule``,
``tearDownModule``, ``stretch``, ``between``) and the kind what it does (``exit``: ``os._exit(3)``;
``segv``: SIGSEGV to the worker itself; ``hang``: wait forever, until a time limit ends it).
Unset, every fixture of ``mishaps.tests.outside`` is harmless and every test passes, as it does
in a serial run. Nothing here depends on timing: each fault happens at a fixed point.
"""

from __future__ import annotations

import os
import signal
import threading
from multiprocessing import connection

from mishaps.models import Entry

EXIT_CODE = 3


def enabled(place: str, kind: str) -> bool:
    wanted = {item.strip() for item in os.environ.get("FAULTS_OUTSIDE", "").split(",")}
    return "all" in wanted or f"{place}:{kind}" in wanted


def fault(kind: str) -> None:
    if kind == "exit":
        os._exit(EXIT_CODE)
    elif kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "hang":
        threading.Event().wait()
    raise AssertionError(f"unknown fault {kind!r}")


def trigger(place: str, kind: str) -> None:
    """Do the fault ``kind`` here if FAULTS_OUTSIDE asks for it at ``place``."""
    if enabled(place, kind):
        fault(kind)


def fault_when_idle(kind: str) -> None:
    """Make this worker do ``kind`` the next time it waits for work: between two units.

    The worker waits for its next unit on its pipe to the parent; the next call of ``recv`` is
    the first thing it does after reporting that the unit is done.
    """

    def recv(self: connection.Connection) -> object:
        fault(kind)
        return None

    connection.Connection.recv = recv  # type: ignore[method-assign]


class HealthyTests:
    """Two tests that write rows and pass: the unit a fault fixture belongs to."""

    def test_one(self) -> None:
        Entry.objects.create(name="one")
        self.assertEqual(Entry.objects.count(), 1)  # type: ignore[attr-defined]

    def test_two(self) -> None:
        Entry.objects.create(name="two")
        self.assertEqual(Entry.objects.count(), 1)  # type: ignore[attr-defined]
