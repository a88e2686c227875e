"""Each test reads the value the code gives now: a fresh database (Django's serial run) passes,
a template built from older code fails.

Run by label (defaults.cases): discovery (test*.py) must not find it when the app is off."""

from django.test import TestCase

from defaults import labels, receivers, seeding
from defaults.models import Colour, Shape


class DefaultRowTests(TestCase):
    def test_default_colour(self):
        self.assertIn(receivers.DEFAULT_COLOUR, Colour.objects.values_list("name", flat=True))

    def test_extra_colour(self):
        try:
            from defaults.more_receivers import EXTRA_COLOUR
        except ImportError:
            self.skipTest("no extra receiver yet")
        self.assertIn(EXTRA_COLOUR, Colour.objects.values_list("name", flat=True))

    def test_seeded_shape(self):
        names = list(Shape.objects.values_list("name", flat=True))
        self.assertEqual(names, [seeding.DEFAULT_SHAPE])

    def test_shape_label(self):
        labels_now = list(Shape.objects.values_list("label", flat=True))
        self.assertEqual(labels_now, [labels.SHAPE_LABEL])
