"""One unit of three classes (the module has fixtures): faults in the class fixtures of two.

The first class's tearDownClass ends its worker after its tests passed, the second class's
setUpClass ends the next one; the rest of the unit runs on a replacement, as serial runs it.
"""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, trigger


def setUpModule() -> None:
    pass


def tearDownModule() -> None:
    pass


class AFirstTests(HealthyTests, TestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        trigger("stretch", "exit")
        super().tearDownClass()


class BSecondTests(HealthyTests, TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        trigger("stretch", "segv")


class CThirdTests(HealthyTests, TestCase):
    pass
