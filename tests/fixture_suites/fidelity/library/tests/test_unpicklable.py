"""Exceptions that pickle cannot carry across a process boundary."""

from __future__ import annotations

import threading

from django.test import SimpleTestCase


class LockHoldingError(Exception):
    """An error that keeps a lock, which pickle refuses."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


class LockHoldingFailure(AssertionError):
    """A failure that keeps a lock."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


class UnpicklableTests(SimpleTestCase):
    def test_error_holding_lock(self):
        raise LockHoldingError("fidelity: error holding a lock")

    def test_error_with_lock_argument(self):
        raise ValueError("fidelity: lock as an argument", threading.Lock())

    def test_error_holding_generator(self):
        raise ValueError("fidelity: generator as an argument", (n for n in range(3)))

    def test_failure_holding_lock(self):
        raise LockHoldingFailure("fidelity: failure holding a lock")

    def test_error_of_local_class(self):
        class LocalError(Exception):
            pass

        raise LocalError("fidelity: error of a class defined in a function")

    def test_failure_of_local_class(self):
        class LocalFailure(AssertionError):
            pass

        raise LocalFailure("fidelity: failure of a class defined in a function")

    def test_subtest_error_holding_lock(self):
        for i in range(2):
            with self.subTest(i=i):
                if i == 1:
                    raise LockHoldingError("fidelity: subtest error holding a lock")
