"""A module with setUpModule and tearDownModule: they must run once around all its classes.

Both classes are TestCases on purpose: serial Django runs TestCases before SimpleTestCases, so
a module mixing the two is set up twice in a serial run. ``--shuffle`` interleaves classes of
different modules, so a shuffled serial run sets this module up more than once too: the
fidelity check leaves it out of its shuffled run (tag ``fidelity_module``).
"""

from __future__ import annotations

from django.test import TestCase, tag

from ledger.models import Entry

STATE = {"set_up": 0, "torn_down": 0}


def setUpModule():
    STATE["set_up"] += 1


def tearDownModule():
    STATE["torn_down"] += 1


@tag("fidelity_module")
class FirstModuleTests(TestCase):
    def test_module_set_up_once(self):
        self.assertEqual(STATE, {"set_up": 1, "torn_down": 0})


@tag("fidelity_module")
class SecondModuleTests(TestCase):
    def test_module_set_up_once(self):
        self.assertEqual(STATE, {"set_up": 1, "torn_down": 0})

    def test_uses_database(self):
        Entry.objects.create(note="module")
        self.assertEqual(Entry.objects.count(), 1)
