"""The private parts of pytest-django and pytest-xdist the plugin relies on, in one place.

Each is named here and nowhere else; :func:`check` says which one moved, and
``tests/test_pytest_plugin_pins.py`` runs it against every pinned pair of versions, so an
upgrade that changes one fails loudly instead of quietly switching the plugin off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

logger = logging.getLogger(__name__)

# (module, attribute, what the plugin uses it for)
PINNED: tuple[tuple[str, str, str], ...] = (
    ("pytest_django.plugin", "blocking_manager_key", "database access in the controller"),
    ("pytest_django.fixtures", "_get_databases_for_setup", "the aliases a worker's tests use"),
    ("pytest_django.fixtures", "django_db_setup", "the fixture the plugin's set-up replaces"),
    ("xdist.scheduler.loadscope", "LoadScopeScheduling", "the base of the longest-first mode"),
)

# Members of LoadScopeScheduling the longest-first scheduler reads or overrides.
SCHEDULER_MEMBERS = ("workqueue", "_assign_work_unit", "_split_scope", "schedule")


def _attribute(module: str, name: str) -> Any:
    imported = __import__(module, fromlist=[name])
    return getattr(imported, name)


def check() -> list[str]:
    """Return one sentence per pinned private API that is missing (empty: all present)."""
    problems = []
    for module, name, purpose in PINNED:
        try:
            _attribute(module, name)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{module}.{name} ({purpose}) is gone: {exc}")
    try:
        base = _attribute("xdist.scheduler.loadscope", "LoadScopeScheduling")
    except (ImportError, AttributeError):
        return problems
    for member in SCHEDULER_MEMBERS:
        if member != "workqueue" and not hasattr(base, member):
            problems.append(f"LoadScopeScheduling.{member} is gone")
    return problems


def db_blocker(config: pytest.Config) -> Any:
    """Return pytest-django's database blocker (its ``unblock()`` allows database access)."""
    return config.stash[_attribute("pytest_django.plugin", "blocking_manager_key")]


def databases_for_setup(items: Sequence[pytest.Item]) -> tuple[set[str], set[str]]:
    """Return the aliases ``items`` use and those they want serialized, as pytest-django does."""
    aliases, serialized = _attribute("pytest_django.fixtures", "_get_databases_for_setup")(items)
    return set(aliases), set(serialized)
