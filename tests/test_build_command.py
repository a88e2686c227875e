"""``manage.py build_test_template``: its output, exit statuses and refusals (SQLite, fast)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.projects import LINE, Project, make_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path, "sqlite")


def test_prints_alias_name_fingerprint_and_action_with_time(project: Project) -> None:
    built = project.manage("build_test_template")
    assert built.returncode == 0, built.stderr
    line = LINE.search(built.stdout)
    assert line and line["alias"] == "default" and line["action"] == "built"
    assert line["fp"] in line["name"] and float(line["seconds"]) > 0
    reused = project.manage("build_test_template")
    assert LINE.search(reused.stdout)["action"] == "reused"  # type: ignore[index]


def test_check_exits_1_when_missing_and_0_when_current_and_changes_nothing(
    project: Project,
) -> None:
    missing = project.manage("build_test_template", "--check")
    assert missing.returncode == 1 and "missing" in missing.stdout
    assert project.databases() == []
    project.manage("build_test_template")
    current = project.manage("build_test_template", "--check")
    assert current.returncode == 0 and re.search(
        r"fingerprint [0-9a-f]{12} current", current.stdout
    )


def test_check_refuses_force_and_prune_with_exit_2(project: Project) -> None:
    done = project.manage("build_test_template", "--check", "--force")
    assert done.returncode == 2
    assert "--check" in done.stderr and "separately" in done.stderr


def test_an_unknown_database_alias_is_a_usage_error(project: Project) -> None:
    done = project.manage("build_test_template", "--database", "nope")
    assert done.returncode == 2
    assert "--database 'nope' is not in DATABASES" in done.stderr


def test_force_rebuilds_a_current_template(project: Project) -> None:
    first = LINE.search(project.manage("build_test_template").stdout)
    forced = LINE.search(project.manage("build_test_template", "--force").stdout)
    assert first and forced and forced["action"] == "built" and forced["name"] == first["name"]


def test_model_changes_without_a_migration_are_a_warning(project: Project) -> None:
    models = project.path / "shelf" / "models.py"
    pages = "    pages = models.IntegerField(default=0)\n"
    blurb = "    blurb = models.TextField(default='')\n"
    models.write_text(models.read_text().replace(pages, pages + blurb))
    done = project.manage("build_test_template")
    assert done.returncode == 0, done.stderr
    assert "Models of shelf have changes that no migration reflects" in done.stderr


def test_with_migrations_off_the_models_decide_the_fingerprint(project: Project) -> None:
    off = LINE.search(project.manage("build_test_template", TEST_NO_MIGRATE="1").stdout)
    on = LINE.search(project.manage("build_test_template").stdout)
    assert off and on and off["fp"] != on["fp"]
    models = project.path / "shelf" / "models.py"
    models.write_text(models.read_text().replace("max_length=200", "max_length=250"))
    changed = project.manage("build_test_template", TEST_NO_MIGRATE="1")
    line = LINE.search(changed.stdout)
    assert line and line["action"] == "built" and line["fp"] != off["fp"], changed.stdout
