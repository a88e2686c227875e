"""Group a discovered suite into work units: the pieces that must run in one process.

One TestCase class is one unit, because class fixtures (setUpClass, setUpTestData) must run
once in the process that runs the class's tests. All the classes of a module that defines
``setUpModule`` or ``tearDownModule`` form one unit, so module fixtures run once, as in serial.
Inside a unit, tests keep the order Django's ``build_suite`` gave them (``--shuffle`` and
``--reverse`` apply there).
"""

from __future__ import annotations

import hashlib
import sys
import unittest
from collections.abc import Iterable, Sequence

from django.test.utils import iter_test_cases  # type: ignore[attr-defined]

from .results import CaseInfo, WorkUnitSpec


def unit_key(test: unittest.TestCase) -> str:
    """Return the key of the unit ``test`` belongs to: "module.Class", or "module"."""
    cls = type(test)
    module = sys.modules.get(cls.__module__)
    if module is not None and (hasattr(module, "setUpModule") or hasattr(module, "tearDownModule")):
        return cls.__module__
    return f"{cls.__module__}.{cls.__qualname__}"


def case_info(test: unittest.TestCase) -> CaseInfo:
    """Return how unittest names ``test``, as plain data."""
    return CaseInfo(test.id(), str(test), test.shortDescription())


def group_units(
    suite: Iterable[unittest.TestCase] | unittest.TestSuite,
) -> list[list[unittest.TestCase]]:
    """Return the suite's tests grouped into units, in order of first appearance."""
    groups: dict[str, list[unittest.TestCase]] = {}
    for test in iter_test_cases(suite):
        groups.setdefault(unit_key(test), []).append(test)
    return list(groups.values())


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
    return [
        WorkUnitSpec(
            index,
            unit_key(tests[0]),
            tuple(case_info(test) for test in tests),
            unit_phase(tests, phases) if phases else 0,
        )
        for index, tests in enumerate(groups)
    ]


def units_digest(units: list[WorkUnitSpec]) -> str:
    """Return a hash of the units' keys and test ids, to check a rebuilt suite matches."""
    digest = hashlib.sha256()
    for unit in units:
        digest.update(unit.key.encode())
        for info in unit.tests:
            digest.update(b"\0" + info.id.encode())
        digest.update(b"\1")
    return digest.hexdigest()
