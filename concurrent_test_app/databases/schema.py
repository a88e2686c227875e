"""What a template's schema should be: the tables migrate must have made, and models that drifted.

A template is published only when every table that ``migrate --run-syncdb`` should have
created is there (:func:`check_tables`); a build also warns when models changed with no
migration to match (:func:`migration_drift_warning`), since the template follows the
migrations, not the models.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.models import Model

from concurrent_test_app.databases import fingerprint
from concurrent_test_app.exceptions import TemplateBuildError

logger = logging.getLogger(__name__)

# How many missing tables an error names before it only counts the rest.
SHOWN_TABLES = 10


def expected_tables(connection: BaseDatabaseWrapper) -> set[str]:
    """Return the tables ``migrate --run-syncdb`` creates on ``connection``'s alias.

    For apps with migrations, the models of the migrations' final state; for apps without
    (or for every app when ``TEST["MIGRATE"]`` is False), the models themselves. Each model
    counts as migrate counts it: managed, not a proxy, not swapped, its vendor and features
    met, and allowed on this alias by the routers; with its auto-created many-to-many tables.
    """
    migrate = (connection.settings_dict.get("TEST") or {}).get("MIGRATE", True) is not False
    loader = MigrationLoader(None, ignore_no_migrations=True)
    models: list[type[Model]] = []
    unmigrated = set(loader.unmigrated_apps) if migrate else None
    if migrate:
        state = loader.project_state()
        models.extend(state.apps.get_models(include_auto_created=True))
    for app_config in apps.get_app_configs():
        if unmigrated is None or app_config.label in unmigrated:
            models.extend(app_config.get_models(include_auto_created=True))
    tables: set[str] = set()
    for model in models:
        options = model._meta
        if options.can_migrate(connection) and router.allow_migrate_model(connection.alias, model):
            tables.add(options.db_table)
    return tables


def check_tables(connection: BaseDatabaseWrapper, alias: str) -> None:
    """Raise TemplateBuildError unless ``connection``'s database has every expected table.

    ``connection`` is ``alias``'s, pointed at the template being built.
    """
    expected = expected_tables(connection)
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor, include_views=True))
    if connection.features.ignores_table_name_case:
        existing = {table.lower() for table in existing}
        expected = {table.lower() for table in expected}
    missing = sorted(expected - existing)
    if not missing:
        return
    shown = ", ".join(missing[:SHOWN_TABLES])
    if len(missing) > SHOWN_TABLES:
        shown += f" and {len(missing) - SHOWN_TABLES} more"
    raise TemplateBuildError(
        f"The template built for alias {alias!r} lacks {len(missing)} of the "
        f"{len(expected)} tables that migrate should have created ({shown}), so it was not "
        f"published; run 'manage.py migrate --database {alias}' against an empty "
        "database to see why."
    )


def migration_drift_warning() -> str | None:
    """Return a warning naming the apps whose models changed without a migration, or None."""
    try:
        drifted = fingerprint.migration_drift()
    except Exception as exc:  # the check is advice; a broken graph is reported by migrate
        logger.debug("Could not check for migration drift: %s", exc)
        return None
    if not drifted:
        return None
    return (
        f"Models of {', '.join(drifted)} have changes that no migration reflects; "
        "run 'manage.py makemigrations' (the template follows the migrations, not the models)."
    )
