"""A test module that cannot be imported: discovery turns it into one erroring test."""

from __future__ import annotations

import fidelity_module_that_does_not_exist  # noqa: F401
from django.test import SimpleTestCase


class NeverLoadedTests(SimpleTestCase):
    def test_never_runs(self):
        pass
