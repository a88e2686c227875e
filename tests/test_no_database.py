"""A project without any database (DATABASES = {}) runs, and says nothing about history."""

from __future__ import annotations

import textwrap
from pathlib import Path

from .conftest import ROOT, run_manage


def write_project(folder: Path) -> None:
    (folder / "manage.py").write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.path.insert(0, {str(ROOT)!r})
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nodb_settings")
            from django.core.management import execute_from_command_line
            execute_from_command_line(sys.argv)
            """
        )
    )
    (folder / "nodb_settings.py").write_text(
        'SECRET_KEY = "x"\nINSTALLED_APPS = ["concurrent_test_app", "nodbapp"]\nDATABASES = {}\n'
    )
    app = folder / "nodbapp"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "tests.py").write_text(
        textwrap.dedent(
            """
            from django.test import SimpleTestCase


            class PassingTests(SimpleTestCase):
                def test_passes(self):
                    pass


            class FailingTests(SimpleTestCase):
                def test_fails(self):
                    self.assertEqual(1, 2)
            """
        )
    )


def test_a_project_without_databases_runs(tmp_path: Path) -> None:
    write_project(tmp_path)
    done = run_manage(tmp_path, "concurrent_test", "--workers", "2", "--no-progress")
    assert done.returncode == 1, done.stderr
    assert "Ran 2 tests" in done.stderr
    assert "FAILED (failures=1)" in done.stderr
    assert "Traceback" not in done.stderr.split("FAIL: ")[0]
    assert "Timing history is off" not in done.stdout + done.stderr
