"""What the plugin needs to know about one collected test: its id, its unit, its database use.

Pure functions over pytest items and node ids, shared by the worker (which sees items) and
the controller (which sees only node ids and reports).
"""

from __future__ import annotations

import logging
import unittest

import pytest

logger = logging.getLogger(__name__)

# How a test uses its databases, in pytest-django's order: a TestCase wants the template's
# rows; a transactional test leaves its databases flushed; the rest touch no database.
CLEAN = "clean"
FLUSHES = "flushes"
NONE = "none"


def unittest_id(item: pytest.Item) -> str | None:
    """Return the test's id as unittest gives it (``module.Class.test``), or None."""
    cls = getattr(item, "cls", None)
    if cls is None or not issubclass(cls, unittest.TestCase):
        return None
    method = getattr(item, "originalname", None) or item.name
    return f"{cls.__module__}.{cls.__qualname__}.{method}"


def scope_of(nodeid: str) -> str:
    """Return the scope of a node id as ``--dist loadscope`` cuts it: its class, or module."""
    return nodeid.rsplit("::", 1)[0]


def unit_key(test_id: str | None, nodeid: str) -> str:
    """Return the history's unit key: the unittest class, or the pytest scope."""
    if test_id:
        return test_id.rsplit(".", 1)[0]
    return scope_of(nodeid)


def key_candidates(scope: str) -> list[str]:
    """Return the unit keys a scope may have in history, the most specific first.

    ``shop/tests/test_x.py::Cart`` may be ``shop.tests.test_x.Cart``, or ``tests.test_x.Cart``
    when the tests' root is ``shop`` (the controller does not import the modules, so it
    cannot ask); a scope without a class is keyed by itself.
    """
    path, _, rest = scope.partition("::")
    if not path.endswith(".py") or not rest:
        return [scope]
    parts = path[: -len(".py")].split("/") + rest.split("::")
    return [".".join(parts[start:]) for start in range(len(parts) - 1)] + [scope]


def database_use(item: pytest.Item) -> str:
    """Return how ``item`` uses its databases (CLEAN, FLUSHES or NONE), as pytest-django
    orders tests."""
    from django.test import TestCase, TransactionTestCase

    cls = getattr(item, "cls", None)
    if cls is not None and issubclass(cls, TransactionTestCase):
        if not cls.databases:
            return NONE
        return CLEAN if issubclass(cls, TestCase) else FLUSHES
    fixtures = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    transactional = "transactional_db" in fixtures or "live_server" in fixtures
    if marker is not None:
        transactional = (
            transactional
            or bool(marker.kwargs.get("transaction"))
            or bool(marker.kwargs.get("reset_sequences"))
        )
    if transactional:
        return FLUSHES
    if marker is not None or "db" in fixtures:
        return CLEAN
    return NONE
