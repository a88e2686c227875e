from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.test import TestCase


class HookTests(TestCase):
    def test_project_hook_ran_in_the_worker(self):
        self.assertEqual(settings.FLAVOUR, "hooked-vanilla")


class DatabaseTests(TestCase):
    def test_database_works(self):
        Group.objects.create(name="g")
        self.assertEqual(Group.objects.count(), 1)
