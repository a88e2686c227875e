"""setUpModule that ends its worker (exit) when FAULTS_OUTSIDE asks for it."""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, trigger


def setUpModule() -> None:
    trigger("setUpModule", "exit")


class ModuleSetUpExitTests(HealthyTests, TestCase):
    pass
