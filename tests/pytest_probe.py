"""A pytest plugin the plugin's tests load (``-p tests.pytest_probe``) to watch a session.

It writes one line per event to the file named by ``PYTEST_PROBE_FILE``: ``migrate <alias>``
whenever a migrate runs in any process, and ``clone <worker> <alias> <template> <database>``
for the clones each worker's tests ran on; ``database <worker> <NAME>`` for the database each
worker's tests saw, and ``plugin <worker> absent`` when the plugin is off and was never
imported.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

PLUGIN = "concurrent_test_app.pytest_plugin"
_seen: set[str] = set()


def _write(line: str) -> None:
    path = os.environ.get("PYTEST_PROBE_FILE")
    if path and line not in _seen:
        _seen.add(line)
        with open(path, "a", encoding="utf-8") as probe:
            probe.write(line + "\n")


def _on_migrate(sender: Any, using: str = "", **kwargs: Any) -> None:
    if getattr(sender, "label", "") == "notes" or getattr(sender, "label", "") == "contenttypes":
        _write(f"migrate {using}")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from django.db.models.signals import pre_migrate

    pre_migrate.connect(_on_migrate, dispatch_uid="pytest_probe")


def pytest_runtest_call(item: pytest.Item) -> None:
    worker = getattr(item.config, "workerinput", {}).get("workerid", "main")
    if "django.db" in sys.modules:
        from django.db import connections

        _write(f"database {worker} {connections['default'].settings_dict['NAME']}")
    if not item.config.pluginmanager.hasplugin(PLUGIN):
        _write(f"plugin {worker} {'imported' if PLUGIN in sys.modules else 'absent'}")
        return
    from concurrent_test_app.pytest_plugin import state_of

    clones = state_of(item.config).clones
    if clones is None:
        return
    for alias, (template, database) in clones.clone_of().items():
        _write(f"clone {worker} {alias} {template} {database}")
