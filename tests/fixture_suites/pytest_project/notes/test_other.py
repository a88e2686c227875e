"""A test of two databases, collected only when the project has the second alias."""

from __future__ import annotations

from django.conf import settings
from django.test import TestCase

from notes.models import Note

if "other" in settings.DATABASES:

    class OtherDatabaseTests(TestCase):
        databases = {"default", "other"}

        def test_both(self) -> None:
            self.assertEqual(Note.objects.using("other").count(), 3)
            self.assertEqual(Note.objects.count(), 3)
