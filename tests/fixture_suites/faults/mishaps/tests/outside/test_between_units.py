"""Tests that pass, and leave their worker to die right after their unit, before the next."""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, enabled, fault_when_idle


class BetweenUnitsFault(HealthyTests):
    kind = ""

    def test_three_arms_the_fault(self) -> None:
        if enabled("between", self.kind):
            fault_when_idle(self.kind)


class BetweenUnitsExitTests(BetweenUnitsFault, TestCase):
    kind = "exit"


class BetweenUnitsSegvTests(BetweenUnitsFault, TestCase):
    kind = "segv"
