from __future__ import annotations

import environ
from django.conf import settings
from django.test import SimpleTestCase
from django.urls import resolve


class ProjectSettingsTests(SimpleTestCase):
    def test_database_url_scheme_picks_the_engine(self) -> None:
        cases = {
            "sqlite:////tmp/demo.sqlite3": "django.db.backends.sqlite3",
            "postgres://postgres@127.0.0.1:5432/sample_demo": "django.db.backends.postgresql",
            "mysql://root@127.0.0.1:3306/sample_demo": "django.db.backends.mysql",
        }
        for url, engine in cases.items():
            with self.subTest(url=url):
                self.assertEqual(environ.Env.db_url_config(url)["ENGINE"], engine)

    def test_project_wiring(self) -> None:
        self.assertEqual(settings.PROJECT_NAME, "sample_project")
        self.assertTrue(settings.USE_TZ)
        self.assertIn("concurrent_test_app", settings.INSTALLED_APPS)
        self.assertEqual(resolve("/admin/").app_name, "admin")
