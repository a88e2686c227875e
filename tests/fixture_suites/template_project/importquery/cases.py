"""Run by label (importquery.cases): discovery must not find it when the app is off."""

from django.test import TestCase

from importquery.models import Probe


class ProbeTests(TestCase):
    def test_probe_table_exists(self):
        Probe.objects.create(label="x")
        self.assertEqual(Probe.objects.count(), 1)
