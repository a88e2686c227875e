"""setUpModule that ends its worker (hang) when FAULTS_OUTSIDE asks for it."""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, trigger


def setUpModule() -> None:
    trigger("setUpModule", "hang")


class ModuleSetUpHangTests(HealthyTests, TestCase):
    pass
