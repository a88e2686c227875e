"""A module whose setUpModule fails, holding a SimpleTestCase and a TestCase.

Serial Django runs every TestCase before the SimpleTestCases, so the two classes are never
next to each other: unittest calls setUpModule once before each, and reports its error twice.
"""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase, tag


def setUpModule():
    raise RuntimeError("fidelity: error in setUpModule")


@tag("fidelity_mixed_module")
class ModuleErrorSimpleTests(SimpleTestCase):
    def test_never_runs(self):
        pass


@tag("fidelity_mixed_module")
class ModuleErrorDatabaseTests(TestCase):
    def test_never_runs(self):
        pass
