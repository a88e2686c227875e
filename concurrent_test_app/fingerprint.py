"""Fingerprints: a short hash over everything that shapes a test database's schema.

The fingerprint of an alias hashes

- the bytes of every migration file and the migration graph's leaf nodes;
- for apps without migrations (and for every app when ``TEST["MIGRATE"]`` is False) the
  models' state instead, since their schema comes from the models;
- the installed apps, where each app's migrations live (``MIGRATION_MODULES``), the routers,
  the Django version, the database vendor, engine and server version, and the alias's
  ``TEST`` settings.

It is split into an *environment* part and the per-migration file hashes, so that
:mod:`concurrent_test_app.template` can tell "only migrations were added on top" from
anything else. After a build, :func:`schema_fingerprint` hashes the schema itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.db import router
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.writer import MigrationWriter

logger = logging.getLogger(__name__)

# Keys of an alias's TEST dict that name or link databases rather than shape a schema.
_TEST_KEYS_IGNORED = {"NAME", "MIRROR", "DEPENDENCIES"}


@dataclass(frozen=True)
class Fingerprint:
    """What a template is built from, hashed."""

    digest: str
    environment: str
    migrations: dict[str, str] = field(default_factory=dict)
    migrate: bool = True

    @property
    def short(self) -> str:
        """Return the 12 hex digits that template names carry."""
        return self.digest[:12]

    def extends(self, older: dict[str, str]) -> bool:
        """Return whether this fingerprint's migrations are ``older`` plus new files only."""
        if not self.migrate or len(older) >= len(self.migrations):
            return False
        return all(self.migrations.get(key) == digest for key, digest in older.items())


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _stable(value: Any) -> str:
    """Return a repr of ``value`` that is the same in every process (no memory addresses)."""
    try:
        text, _imports = MigrationWriter.serialize(value)
        return str(text)
    except Exception:  # an unserializable default or option: name its type, not its address
        kind = type(value)
        return f"<{kind.__module__}.{kind.__qualname__}>"


def model_state_digest(app_labels: Iterable[str]) -> str:
    """Return a hash of the models' state of ``app_labels``: fields, options and bases."""
    lines: list[str] = []
    for label in sorted(app_labels):
        try:
            app_config = apps.get_app_config(label)
        except LookupError:
            continue
        models = sorted(app_config.get_models(include_auto_created=False), key=lambda m: m.__name__)
        for model in models:
            state = ModelState.from_model(model)
            lines.append(f"model {state.app_label}.{state.name}")
            for name, model_field in state.fields.items():
                _, path, args, kwargs = model_field.deconstruct()
                lines.append(f"  field {name} {path} {_stable(args)} {_stable(kwargs)}")
            for key in sorted(state.options):
                lines.append(f"  option {key} {_stable(state.options[key])}")
            bases = [
                b if isinstance(b, str) else f"{b.__module__}.{b.__qualname__}" for b in state.bases
            ]
            lines.append(f"  bases {bases}")
    return _sha("\n".join(lines))


def migration_files(loader: MigrationLoader) -> dict[str, str]:
    """Return ``{"app.migration": sha256 of its file}`` for every migration on disk."""
    hashes: dict[str, str] = {}
    for (app_label, name), migration in sorted((loader.disk_migrations or {}).items()):
        module = sys.modules.get(type(migration).__module__)
        path = getattr(module, "__file__", None)
        content = Path(path).read_bytes() if path else repr(migration.operations).encode()
        hashes[f"{app_label}.{name}"] = _sha(content)
    return hashes


def compute(connection: Any, server_version: str) -> Fingerprint:
    """Return the fingerprint of the test database ``connection``'s alias would get."""
    test_settings = dict(connection.settings_dict.get("TEST") or {})
    migrate = test_settings.get("MIGRATE", True) is not False
    loader = MigrationLoader(None, ignore_no_migrations=True)
    app_configs = list(apps.get_app_configs())
    if migrate:
        migrations = migration_files(loader)
        unmigrated = set(loader.unmigrated_apps)
        leaves = sorted(f"{app}.{name}" for app, name in loader.graph.leaf_nodes())
    else:
        migrations, leaves = {}, []
        unmigrated = {app_config.label for app_config in app_configs}
    environment = {
        "django": django.get_version(),
        "vendor": connection.vendor,
        "engine": connection.settings_dict.get("ENGINE"),
        "server": server_version,
        "test": {
            k: _stable(v) for k, v in sorted(test_settings.items()) if k not in _TEST_KEYS_IGNORED
        },
        "apps": [app_config.name for app_config in app_configs],
        "migration_modules": {
            app_config.label: _stable(MigrationLoader.migrations_module(app_config.label))
            for app_config in app_configs
        },
        "routers": [f"{type(r).__module__}.{type(r).__qualname__}" for r in router.routers],
        "models": model_state_digest(unmigrated),
    }
    environment_digest = _sha(json.dumps(environment, sort_keys=True))
    digest = _sha(
        json.dumps(
            {"environment": environment_digest, "migrations": migrations, "leaves": leaves},
            sort_keys=True,
        )
    )
    logger.debug("Fingerprint of %s: %s", connection.alias, digest[:12])
    return Fingerprint(digest, environment_digest, migrations, migrate)


def schema_fingerprint(rows: Iterable[Iterable[Any]]) -> str:
    """Return a hash over schema rows (already ordered by the vendor's query)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(("\x1f".join("" if v is None else str(v) for v in row) + "\n").encode())
    return digest.hexdigest()


def migration_drift() -> list[str]:
    """Return the labels of apps whose models changed with no migration to match."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    autodetector = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(apps), questioner=None
    )
    changes = autodetector.changes(graph=loader.graph)
    return sorted(changes)
