"""override_settings, tags, and skips that depend on database features."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.test import (
    SimpleTestCase,
    TestCase,
    override_settings,
    skipIfDBFeature,
    skipUnlessDBFeature,
    tag,
)

from ledger.models import Entry


@override_settings(FIDELITY_FLAG="class")
class OverrideSettingsTests(SimpleTestCase):
    def test_class_override(self):
        self.assertEqual(settings.FIDELITY_FLAG, "class")

    @override_settings(FIDELITY_FLAG="method")
    def test_method_override(self):
        self.assertEqual(settings.FIDELITY_FLAG, "method")

    def test_context_manager(self):
        with self.settings(FIDELITY_FLAG="block"):
            self.assertEqual(settings.FIDELITY_FLAG, "block")
        self.assertEqual(settings.FIDELITY_FLAG, "class")


class SettingsRestoredTests(SimpleTestCase):
    def test_base_value(self):
        self.assertEqual(settings.FIDELITY_FLAG, "base")


@tag("fidelity_slow")
class TaggedTests(SimpleTestCase):
    @tag("fidelity_fast")
    def test_fast_and_slow(self):
        pass

    def test_slow_only(self):
        pass

    def test_slow_failure(self):
        self.fail("fidelity: failure in a tagged class")


class FeatureTests(TestCase):
    @skipUnlessDBFeature("has_select_for_update")
    def test_select_for_update(self):
        Entry.objects.create(note="locked")
        self.assertEqual(Entry.objects.select_for_update().count(), 1)

    @skipIfDBFeature("interprets_empty_strings_as_nulls")
    def test_empty_string_stays_empty(self):
        Entry.objects.create(note="")
        self.assertEqual(Entry.objects.get().note, "")

    @skipIfDBFeature("supports_transactions")
    def test_skipped_everywhere(self):
        raise AssertionError("every fidelity vendor supports transactions")

    def test_vendor_is_known(self):
        self.assertIn(connection.vendor, {"sqlite", "postgresql", "mysql"})


@skipUnlessDBFeature("supports_transactions")
class TransactionalOnlyTests(TestCase):
    def test_runs(self):
        self.assertTrue(connection.features.supports_transactions)


@skipIfDBFeature("has_select_for_update")
class NoSelectForUpdateTests(TestCase):
    def test_runs_where_select_for_update_is_missing(self):
        self.assertFalse(connection.features.has_select_for_update)
