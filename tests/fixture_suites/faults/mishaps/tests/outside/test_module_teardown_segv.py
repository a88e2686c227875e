"""tearDownModule that ends its worker (segv) when FAULTS_OUTSIDE asks for it."""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, trigger


def tearDownModule() -> None:
    trigger("tearDownModule", "segv")


class ModuleTearDownSegvTests(HealthyTests, TestCase):
    pass
