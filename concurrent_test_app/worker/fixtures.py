"""The unittest suite a worker runs a unit with: it says which class or module fixture it is in.

unittest runs setUpClass, tearDownClass, setUpModule and tearDownModule from private hooks of
``TestSuite`` (the same since Python 3.4). :class:`FixtureSuite` wraps each of them so that
the parent knows, through :class:`~..protocol.FixtureStarted` and :class:`~..protocol.FixtureDone`,
when a worker is inside one: a worker that dies or hangs there is reported under the
fixture's pseudo-id, as serial reports an exception raised there, and the fixture is timed
as one test.
"""

from __future__ import annotations

import logging
import sys
import unittest
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from unittest.util import strclass

logger = logging.getLogger(__name__)

# Frames of this module are unittest's plumbing: a traceback from setUpModule leaves them out,
# as it leaves out unittest's own, so it reads as it does in serial.
__unittest = True

# (pseudo-id, the unit's tests it belongs to, whether it is a set-up); None when it is left.
Announce = Callable[[str | None, tuple[int, ...], bool], None]


class FixtureSuite(unittest.TestSuite):
    """A flat suite of one unit's tests that announces every fixture it enters and leaves."""

    def __init__(
        self,
        tests: Iterable[unittest.TestCase],
        *,
        positions: dict[int, int],
        announce: Announce,
    ) -> None:
        self._members = list(tests)
        super().__init__(self._members)
        self._positions = positions  # id(test) -> its index in the unit
        self._announce = announce

    def _tests_where(self, belongs: Callable[[unittest.TestCase], bool]) -> tuple[int, ...]:
        return tuple(self._positions[id(test)] for test in self._members if belongs(test))

    @contextmanager
    def _inside(self, name: str, tests: tuple[int, ...], sets_up: bool) -> Iterator[None]:
        self._announce(name, tests, sets_up)
        try:
            yield
        finally:
            self._announce(None, (), False)

    def _handleClassSetUp(self, test: unittest.TestCase, result: unittest.TestResult) -> None:
        current = test.__class__
        if (
            current == getattr(result, "_previousTestClass", None)
            or getattr(result, "_moduleSetUpFailed", False)
            or getattr(current, "__unittest_skip__", False)
        ):
            super()._handleClassSetUp(test, result)  # type: ignore[misc]
            return
        tests = self._tests_where(lambda member: member.__class__ == current)
        with self._inside(f"setUpClass ({strclass(current)})", tests, True):
            super()._handleClassSetUp(test, result)  # type: ignore[misc]

    def _tearDownPreviousClass(self, test: unittest.TestCase, result: unittest.TestResult) -> None:
        previous = getattr(result, "_previousTestClass", None)
        if previous is None or previous == test.__class__:
            super()._tearDownPreviousClass(test, result)  # type: ignore[misc]
            return
        tests = self._tests_where(lambda member: member.__class__ == previous)
        with self._inside(f"tearDownClass ({strclass(previous)})", tests, False):
            super()._tearDownPreviousClass(test, result)  # type: ignore[misc]

    def _handleModuleFixture(self, test: unittest.TestCase, result: unittest.TestResult) -> None:
        name = test.__class__.__module__
        module = sys.modules.get(name)
        original = getattr(module, "setUpModule", None)
        if original is None or name == self._get_previous_module(result):  # type: ignore[attr-defined]
            super()._handleModuleFixture(test, result)  # type: ignore[misc]
            return
        tests = self._tests_where(lambda member: member.__class__.__module__ == name)

        def set_up_module() -> None:
            with self._inside(f"setUpModule ({name})", tests, True):
                original()

        # unittest looks setUpModule up on the module when it calls it, after it tore the
        # previous module down: wrapping the function marks exactly the set-up.
        module.setUpModule = set_up_module  # type: ignore[union-attr]
        try:
            super()._handleModuleFixture(test, result)  # type: ignore[misc]
        finally:
            module.setUpModule = original  # type: ignore[union-attr]

    def _handleModuleTearDown(self, result: unittest.TestResult) -> None:
        name = self._get_previous_module(result)  # type: ignore[attr-defined]
        module = sys.modules.get(name) if name else None
        if (
            module is None
            or not hasattr(module, "tearDownModule")
            or getattr(result, "_moduleSetUpFailed", False)
        ):
            super()._handleModuleTearDown(result)  # type: ignore[misc]
            return
        tests = self._tests_where(lambda member: member.__class__.__module__ == name)
        with self._inside(f"tearDownModule ({name})", tests, False):
            super()._handleModuleTearDown(result)  # type: ignore[misc]
