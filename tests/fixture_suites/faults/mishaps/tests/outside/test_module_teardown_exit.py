"""tearDownModule that ends its worker (exit) when FAULTS_OUTSIDE asks for it."""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, trigger


def tearDownModule() -> None:
    trigger("tearDownModule", "exit")


class ModuleTearDownExitTests(HealthyTests, TestCase):
    pass
