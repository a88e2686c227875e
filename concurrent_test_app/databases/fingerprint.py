"""Fingerprints: a short hash over everything that shapes a test database's schema.

The fingerprint of an alias hashes

- the bytes of every migration file and the migration graph's leaf nodes;
- for apps without migrations (and for every app when ``TEST["MIGRATE"]`` is False) the
  models' state instead, since their schema comes from the models;
- the installed apps, where each app's migrations live (``MIGRATION_MODULES``), the routers,
  the Django version, the database vendor, engine and server version, and the alias's
  ``TEST`` settings;
- the code that writes a template's rows outside the migration files (see
  :func:`data_code_files`): the modules of the ``post_migrate`` receivers, of the functions
  that a data migration's ``RunPython`` runs or calls when they live in another file, and the
  files that ``CONCURRENT_TEST_FINGERPRINT_FILES`` lists.

Loading the migration modules runs their top-level code, which may touch the connection; the
caller points the alias at a database that exists first (see
:meth:`concurrent_test_app.databases.template.TemplateBuilder.fingerprint`).

It is split into an *environment* part and the per-migration file hashes, so that
:mod:`concurrent_test_app.databases.template` can tell "only migrations were added on top" from
anything else. After a build, :func:`schema_fingerprint` hashes the schema itself.
"""

from __future__ import annotations

import glob
import hashlib
import inspect
import json
import logging
import sys
import types
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, SeparateDatabaseAndState
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.writer import MigrationWriter
from django.db.models.signals import post_migrate

from concurrent_test_app.conf import app_settings

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


def _stable(value: object) -> str:
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


# Any: introspection of whatever a receiver or RunPython refers to (``.func``, ``__func__``).
def _source_file(obj: Any) -> str | None:
    """Return the source file that defines ``obj`` (a function, method, class or module)."""
    if isinstance(obj, weakref.ref):
        obj = obj()
    while hasattr(obj, "func") and callable(obj.func):  # functools.partial and the like
        obj = obj.func
    obj = inspect.unwrap(obj) if callable(obj) else obj
    candidates = (obj, getattr(obj, "__func__", None), type(obj))
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            path = inspect.getsourcefile(candidate)
        except TypeError:  # built-in: no source file
            continue
        if path:
            return str(Path(path).resolve())
    return None


def _called_files(function: types.FunctionType, home: str) -> Iterator[str]:
    """Yield the files of the functions, classes and modules ``function`` refers to by name.

    Functions of the same file (``home``) are followed in turn, so a migration's forwards
    function that calls a helper of its own that imports another module is seen through.
    """
    seen: set[int] = set()
    pending = [function]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        names: set[str] = set()
        codes = [current.__code__]
        while codes:  # nested functions and comprehensions carry their own names
            code = codes.pop()
            names.update(code.co_names)
            codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        values = [current.__globals__.get(name) for name in sorted(names)]
        values += [cell.cell_contents for cell in current.__closure__ or () if _filled(cell)]
        for value in values:
            if value is None or isinstance(value, (str, bytes, int, float, bool)):
                continue
            if isinstance(value, types.ModuleType):
                file = getattr(value, "__file__", None)
                path = str(Path(file).resolve()) if file else None
            else:
                path = _source_file(value)
            if path is None:
                continue
            if path == home:
                if isinstance(value, types.FunctionType):
                    pending.append(value)
                continue
            yield path


def _filled(cell: types.CellType) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:  # a cell whose variable is not bound yet
        return False
    return True


def _run_python_operations(operations: Iterable[Operation]) -> Iterator[RunPython]:
    for operation in operations:
        if isinstance(operation, RunPython):
            yield operation
        elif isinstance(operation, SeparateDatabaseAndState):
            yield from _run_python_operations(operation.database_operations)


def _listed_files() -> list[str]:
    """Return the files CONCURRENT_TEST_FINGERPRINT_FILES names, a glob that matches none kept."""
    found: list[str] = []
    base = app_settings.fingerprint_base_dir
    for pattern in app_settings.fingerprint_files:
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        matches = sorted(p for p in glob.glob(full, recursive=True) if Path(p).is_file())
        if matches:
            found.extend(str(Path(m).resolve()) for m in matches)
        else:  # still counted, as the pattern itself: a file that appears later changes it
            found.append(pattern)
    return found


def data_code_files(loader: MigrationLoader) -> list[str]:
    """Return the source files of the code that writes a template's rows besides migrations.

    That is the modules defining each ``post_migrate`` receiver connected now, each
    ``RunPython`` function (forwards and backwards) that lives outside its migration's file,
    every module a ``RunPython`` function of the migration's own file refers to, and the files
    of ``CONCURRENT_TEST_FINGERPRINT_FILES``.
    """
    files: set[str] = set()
    for receiver in list(post_migrate.receivers):
        path = _source_file(receiver[1])
        if path:
            files.add(path)
    for migration in (loader.disk_migrations or {}).values():
        module = sys.modules.get(type(migration).__module__)
        home = getattr(module, "__file__", None)
        home = str(Path(home).resolve()) if home else ""
        for operation in _run_python_operations(migration.operations):
            for function in (operation.code, operation.reverse_code):
                if function is None:
                    continue
                path = _source_file(function)
                if path and path != home:
                    files.add(path)
                elif isinstance(function, types.FunctionType):
                    files.update(_called_files(function, home))
    files.update(_listed_files())
    return sorted(files)


def files_digest(paths: Iterable[str]) -> str:
    """Return a hash over the files' contents (where a file lives does not count).

    Paths differ between checkouts and virtual environments, contents are what matter; a path
    that is no readable file counts by its text.
    """
    lines = []
    for path in paths:
        try:
            lines.append(_sha(Path(path).read_bytes()))
        except OSError:
            lines.append(f"missing {path}")
    return _sha("\n".join(sorted(lines)))


def compute(connection: BaseDatabaseWrapper, server_version: str) -> Fingerprint:
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
        "data_code": files_digest(data_code_files(loader)),
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


def schema_fingerprint(rows: Iterable[Iterable[object]]) -> str:
    """Return a hash over schema rows (already ordered by the vendor's query)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(("\x1f".join("" if v is None else str(v) for v in row) + "\n").encode())
    return digest.hexdigest()


def migration_drift() -> list[str]:
    """Return the labels of apps whose models changed with no migration to match."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    # Apps without migrations get their tables from their models (run_syncdb): nothing can
    # drift there, and handing their models to the autodetector as new ones cost seconds on
    # a suite of many unmigrated test models (the optimizer compares every pair).
    models = ProjectState.from_apps(apps).models
    migrated = {key: state for key, state in models.items() if key[0] in loader.migrated_apps}
    autodetector = MigrationAutodetector(
        loader.project_state(), ProjectState(migrated), questioner=None
    )
    changes = autodetector.changes(graph=loader.graph)
    return sorted(changes)
