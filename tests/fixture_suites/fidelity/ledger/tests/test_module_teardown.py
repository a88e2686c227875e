"""A module whose tearDownModule fails after its tests passed."""

from __future__ import annotations

from django.test import SimpleTestCase


def tearDownModule():
    raise RuntimeError("fidelity: error in tearDownModule")


class ModuleTearDownTests(SimpleTestCase):
    def test_passes(self):
        pass
