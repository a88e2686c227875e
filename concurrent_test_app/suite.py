"""Group a discovered suite into work units: the pieces that must run in one process.

One TestCase class is one unit, because class fixtures (setUpClass, setUpTestData) must run
once in the process that runs the class's tests. All the classes of a module that defines
``setUpModule`` or ``tearDownModule`` form one unit, so module fixtures run once, as in serial.
Inside a unit, tests keep the order Django's ``build_suite`` gave them (``--shuffle`` and
``--reverse`` apply there). A unit that :func:`splittable` allows may later be cut into pieces
(:mod:`concurrent_test_app.execution.split`); the units themselves never change, so a spawned
worker rebuilds exactly the parent's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
import unittest
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TypeVar

from django.test import LiveServerTestCase, SimpleTestCase, TestCase, TransactionTestCase
from django.test.utils import iter_test_cases  # type: ignore[attr-defined]

from concurrent_test_app.protocol import CaseInfo, WorkUnitSpec

logger = logging.getLogger(__name__)

# The class attribute that keeps a class whole; ``@no_split`` sets it to False.
SPLIT_ATTRIBUTE = "concurrent_test_split"

_Class = TypeVar("_Class", bound=type)


def no_split(cls: _Class) -> _Class:
    """Keep every test of ``cls`` on one worker, even when the class bounds the run."""
    setattr(cls, SPLIT_ATTRIBUTE, False)
    return cls


def splittable(tests: Sequence[unittest.TestCase]) -> bool:
    """Return whether a unit's tests may run as pieces, each with its own class fixtures.

    Only a SimpleTestCase or TestCase class: a TransactionTestCase flushes (or restores a
    serialized_rollback) between tests and a LiveServerTestCase shares a server thread, so
    their tests stay together, as do a module's with setUpModule and a class that opted out.
    """
    if len(tests) < 2:
        return False
    cls = type(tests[0])
    if any(type(test) is not cls for test in tests) or has_module_fixtures(tests[0]):
        return False
    if not issubclass(cls, SimpleTestCase) or issubclass(cls, LiveServerTestCase):
        return False
    if issubclass(cls, TransactionTestCase) and not issubclass(cls, TestCase):
        return False
    if getattr(cls, "__unittest_skip__", False):
        return False
    return getattr(cls, SPLIT_ATTRIBUTE, True) is not False


def has_module_fixtures(test: unittest.TestCase) -> bool:
    """Return whether the module of ``test`` defines setUpModule or tearDownModule."""
    module = sys.modules.get(type(test).__module__)
    return module is not None and (
        hasattr(module, "setUpModule") or hasattr(module, "tearDownModule")
    )


def unit_key(test: unittest.TestCase) -> str:
    """Return the key of the unit ``test`` belongs to: "module.Class", or "module"."""
    cls = type(test)
    if has_module_fixtures(test):
        return cls.__module__
    return f"{cls.__module__}.{cls.__qualname__}"


def case_info(test: unittest.TestCase) -> CaseInfo:
    """Return how unittest names ``test``, as plain data."""
    return CaseInfo(test.id(), str(test), test.shortDescription())


def group_units(
    suite: Iterable[unittest.TestCase] | unittest.TestSuite,
) -> list[list[unittest.TestCase]]:
    """Return the suite's tests grouped into units, in order of first appearance.

    The tests of a module with module fixtures form one unit for as long as they follow one
    another; when Django's order splits them (TestCase classes go first, --shuffle mixes
    classes), serial runs setUpModule and tearDownModule once per stretch, and so does each
    stretch's unit here.
    """
    groups: list[list[unittest.TestCase]] = []
    classes: dict[str, list[unittest.TestCase]] = {}
    previous = None
    for test in iter_test_cases(suite):
        key = unit_key(test)
        if has_module_fixtures(test):
            if key != previous:
                groups.append([])
            groups[-1].append(test)
        else:
            group = classes.get(key)
            if group is None:
                group = classes[key] = []
                groups.append(group)
            group.append(test)
        previous = key
    return groups


def _uses_database(test: unittest.TestCase) -> bool:
    return bool(getattr(test, "databases", None))


def _flushes(test: unittest.TestCase) -> bool:
    """Return whether ``test`` empties its databases when it ends (TransactionTestCase)."""
    return (
        isinstance(test, TransactionTestCase)
        and not isinstance(test, TestCase)
        and _uses_database(test)
    )


def _needs_clean(test: unittest.TestCase) -> bool:
    """Return whether ``test`` may rely on the rows its database had after migrating."""
    return isinstance(test, TestCase) and _uses_database(test)


def unit_phase(tests: list[unittest.TestCase], phases: Sequence[type]) -> int:
    """Return the earliest phase of the unit's tests: the index of the first type they are."""
    return min(
        next((i for i, kind in enumerate(phases) if isinstance(test, kind)), len(phases))
        for test in tests
    )


def describe_units(
    groups: list[list[unittest.TestCase]], phases: Sequence[type] = ()
) -> list[WorkUnitSpec]:
    """Return the plain description of every unit that the parent and reports work with.

    ``phases`` is Django's test type order, ``(_FailedTest, *DiscoverRunner.reorder_by)``.
    """
    seen: Counter[str] = Counter()
    keys = []
    for tests in groups:
        key = unit_key(tests[0])
        seen[key] += 1
        # A module split into stretches gets one key per stretch, stable from run to run.
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return [
        WorkUnitSpec(
            index,
            keys[index],
            tuple(case_info(test) for test in tests),
            unit_phase(tests, phases) if phases else 0,
            flushes=any(_flushes(test) for test in tests),
            needs_clean=any(_needs_clean(test) for test in tests),
        )
        for index, tests in enumerate(groups)
    ]


def select_units(
    groups: list[list[unittest.TestCase]], units: list[WorkUnitSpec], indexes: Sequence[int]
) -> tuple[list[list[unittest.TestCase]], list[WorkUnitSpec]]:
    """Return the groups and units at ``indexes`` (a shard), numbered afresh from 0.

    Keys stay those the whole suite gave them, so a shard's history and timings-file keys
    are an unsharded run's: a module's second stretch stays ``module#2`` without its first.
    """
    chosen = sorted(indexes)
    return (
        [groups[index] for index in chosen],
        [dataclasses.replace(units[index], index=new) for new, index in enumerate(chosen)],
    )


def units_digest(units: list[WorkUnitSpec]) -> str:
    """Return a hash of the units' keys and test ids, to check a rebuilt suite matches."""
    digest = hashlib.sha256()
    for unit in units:
        digest.update(unit.key.encode())
        for info in unit.tests:
            digest.update(b"\0" + info.id.encode())
        digest.update(b"\1")
    return digest.hexdigest()
