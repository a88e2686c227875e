"""Fingerprints: stable, and sensitive to exactly what shapes a test database."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db.utils import ConnectionHandler

import concurrent_test_app
from concurrent_test_app.databases import fingerprint

MIGRATIONS = Path(concurrent_test_app.__file__).parent / "migrations"


def connection_for(**overrides: Any) -> Any:
    settings_dict = {"ENGINE": "django.db.backends.sqlite3", "NAME": "fp.sqlite3", **overrides}
    return ConnectionHandler({"default": settings_dict})["default"]


def test_the_fingerprint_is_stable_and_short() -> None:
    first = fingerprint.compute(connection_for(), "3.40.1")
    second = fingerprint.compute(connection_for(), "3.40.1")
    assert first == second
    assert len(first.short) == 12 and int(first.short, 16) >= 0
    assert first.migrate is True


def test_server_version_engine_and_test_settings_change_it() -> None:
    base = fingerprint.compute(connection_for(), "3.40.1").digest
    assert fingerprint.compute(connection_for(), "3.41.0").digest != base
    charset = connection_for(TEST={"CHARSET": "latin1"})
    assert fingerprint.compute(charset, "3.40.1").digest != base
    postgres = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "fp"}}
    )["default"]
    assert fingerprint.compute(postgres, "3.40.1").digest != base


def test_names_and_mirrors_do_not_change_it() -> None:
    base = fingerprint.compute(connection_for(), "1").digest
    renamed = connection_for(NAME="elsewhere.sqlite3", TEST={"NAME": "t.sqlite3"})
    assert fingerprint.compute(renamed, "1").digest == base


def test_every_migration_file_is_hashed_by_its_bytes() -> None:
    result = fingerprint.compute(connection_for(), "1")
    assert "auth.0001_initial" in result.migrations
    import django.contrib.auth.migrations as auth_migrations

    path = Path(auth_migrations.__file__).parent / "0001_initial.py"
    assert result.migrations["auth.0001_initial"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_migrate_false_hashes_the_models_instead_of_the_files() -> None:
    result = fingerprint.compute(connection_for(TEST={"MIGRATE": False}), "1")
    assert result.migrate is False and result.migrations == {}
    assert result.digest != fingerprint.compute(connection_for(), "1").digest


def test_model_state_digest_depends_on_the_apps() -> None:
    auth = fingerprint.model_state_digest(["auth"])
    assert auth == fingerprint.model_state_digest(["auth"])
    assert auth != fingerprint.model_state_digest(["contenttypes"])
    assert fingerprint.model_state_digest([]) != auth


def test_moved_or_edited_migrations_change_it(tmp_path: Path, settings: Any) -> None:
    """MIGRATION_MODULES moving an app's migrations elsewhere, then an edit there."""
    package = tmp_path / "moved_migrations"
    shutil.copytree(MIGRATIONS, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").touch()
    sys.path.insert(0, str(tmp_path))
    try:
        base = fingerprint.compute(connection_for(), "1")
        settings.MIGRATION_MODULES = {"concurrent_test_app": "moved_migrations"}
        moved = fingerprint.compute(connection_for(), "1")
        assert moved.digest != base.digest
        first = sorted(package.glob("0*.py"))
        if not first:
            pytest.skip("concurrent_test_app has no migration files yet")
        first[0].write_text(first[0].read_text() + "\n# edited\n")
        edited = fingerprint.compute(connection_for(), "1")
        assert edited.digest != moved.digest
        assert edited.environment == moved.environment  # only a file changed
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("moved_migrations")]:
            del sys.modules[name]


def test_extends_only_when_every_older_file_is_unchanged() -> None:
    older = {"a.0001": "x", "a.0002": "y"}
    newer = fingerprint.Fingerprint("d" * 64, "e", {**older, "a.0003": "z"})
    assert newer.extends(older)
    assert not newer.extends({**older, "a.0002": "changed"})
    assert not newer.extends({**older, "a.0003": "z"})  # nothing was added
    assert not newer.extends({**older, "b.0001": "gone"})  # a file was removed
    no_migrations = fingerprint.Fingerprint("d" * 64, "e", {**older, "a.0003": "z"}, migrate=False)
    assert not no_migrations.extends(older)


def test_schema_fingerprint_follows_the_rows() -> None:
    rows = [("book", "id", "integer"), ("book", "title", "varchar")]
    assert fingerprint.schema_fingerprint(rows) == fingerprint.schema_fingerprint(list(rows))
    assert fingerprint.schema_fingerprint(rows) != fingerprint.schema_fingerprint(rows[:1])
    assert fingerprint.schema_fingerprint(rows) != fingerprint.schema_fingerprint(
        [("book", "id", "bigint"), rows[1]]
    )


def test_listed_files_and_globs_change_it(tmp_path: Path, settings: Any) -> None:
    data = tmp_path / "fixtures"
    data.mkdir()
    settings.BASE_DIR = tmp_path
    settings.CONCURRENT_TEST_FINGERPRINT_FILES = ["fixtures/*.json"]
    none_yet = fingerprint.compute(connection_for(), "1").digest
    (data / "groups.json").write_text("[]")
    first = fingerprint.compute(connection_for(), "1").digest
    assert first != none_yet  # a file that appears under a glob counts
    (data / "groups.json").write_text('[{"name": "staff"}]')
    assert fingerprint.compute(connection_for(), "1").digest != first
    settings.CONCURRENT_TEST_FINGERPRINT_FILES = []
    assert fingerprint.compute(connection_for(), "1").digest not in (first, none_yet)


def test_post_migrate_receivers_are_part_of_the_data_code() -> None:
    from django.db.migrations.loader import MigrationLoader
    from django.db.models.signals import post_migrate

    def receiver(**kwargs: Any) -> None:
        return None

    loader = MigrationLoader(None, ignore_no_migrations=True)
    files = fingerprint.data_code_files(loader)
    # contrib.auth's create_permissions and contenttypes' receivers are connected in tests.
    assert any(path.endswith("auth/management/__init__.py") for path in files), files
    assert str(Path(__file__).resolve()) not in files
    post_migrate.connect(receiver)
    try:
        assert str(Path(__file__).resolve()) in fingerprint.data_code_files(loader)
    finally:
        post_migrate.disconnect(receiver)


def test_the_modules_a_function_refers_to_are_followed_through_its_own_file() -> None:
    import json

    def helper() -> Any:
        return json.dumps(shutil.which)

    def forwards() -> Any:
        return helper()

    here = str(Path(__file__).resolve())
    found = set(fingerprint._called_files(forwards, here))  # type: ignore[arg-type]
    assert str(Path(json.__file__).resolve()) in found
    assert str(Path(shutil.__file__).resolve()) in found
    assert here not in found
