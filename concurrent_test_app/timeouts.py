"""Per-test time limits: the ``@timeout`` decorator, adaptive limits and the hierarchy warnings.

The decorator only stores an attribute: the test method keeps its identity, its name and its
id, so unittest runs and reports it exactly as it would undecorated. The parent process, which
enforces every limit, asks :func:`limit_for` what a test may take.
"""

from __future__ import annotations

import logging
import math
import unittest
from collections.abc import Callable
from typing import TypeVar
from unittest.case import _SubTest  # type: ignore[attr-defined]  # private, stable since 3.4

from concurrent_test_app.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

TIMEOUT_ATTRIBUTE = "concurrent_test_timeout"
"""The attribute ``@timeout`` sets on a test method or class; a plain float in seconds."""

_T = TypeVar("_T")


def timeout(seconds: float) -> Callable[[_T], _T]:
    """Return a decorator giving a test method or TestCase class its own per-test limit.

    ``@concurrent_test_app.timeout(120)`` overrides ``--timeout-per-test`` (and adaptive
    limits) for the decorated test, or for every test of the decorated class.
    """
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or math.isnan(seconds)
        or seconds <= 0
    ):
        raise ConfigurationError(
            f"@timeout({seconds!r}) needs a number of seconds above 0, such as @timeout(120)."
        )
    limit = float(seconds)

    def decorate(target: _T) -> _T:
        if not callable(target):
            raise ConfigurationError(
                f"@timeout({seconds!r}) was applied to {target!r}; "
                "apply it to a test method or a TestCase class."
            )
        setattr(target, TIMEOUT_ATTRIBUTE, limit)
        return target

    return decorate


def _own_limit(obj: object) -> float | None:
    """Return the limit stored on ``obj`` itself (not one it inherits), or None."""
    value = getattr(obj, "__dict__", {}).get(TIMEOUT_ATTRIBUTE)
    return float(value) if isinstance(value, (int, float)) else None


def timeout_for(test: unittest.TestCase) -> float | None:
    """Return the ``@timeout`` limit of ``test``: its method's beats its class's; else None."""
    # A subtest is timed as the test that contains it.
    case: unittest.TestCase = test.test_case if isinstance(test, _SubTest) else test
    if isinstance(case, unittest.FunctionTestCase):
        method: object = getattr(case, "_testFunc", None)
    else:
        method_name = getattr(case, "_testMethodName", None)
        method = getattr(type(case), method_name, None) if method_name else None
    # A bound or static method keeps its attributes on the underlying function.
    method = getattr(method, "__func__", method)
    limit = _own_limit(method) if method is not None else None
    if limit is not None:
        return limit
    return class_timeout(type(case))


def class_timeout(cls: type) -> float | None:
    """Return the ``@timeout`` limit of a test class (which its fixtures get too), or None."""
    # The class attribute is inherited on purpose: a subclass of a decorated class keeps the limit.
    value = getattr(cls, TIMEOUT_ATTRIBUTE, None)
    return float(value) if isinstance(value, (int, float)) else None


def adaptive_limit(p95: float | None, *, floor: float, multiple: float, ceiling: float) -> float:
    """Return max(floor, multiple x p95), never above ``ceiling``; ``ceiling`` when p95 is None.

    ``ceiling`` is the limit the test would have without adaptation, so an adaptive limit only
    ever tightens it: a test that normally takes 50 ms cannot hang for 30 s.
    """
    if p95 is None or math.isnan(p95) or p95 < 0:
        return ceiling
    return min(ceiling, max(floor, multiple * p95))


def limit_for(
    test: unittest.TestCase,
    *,
    default: float,
    p95: float | None = None,
    adaptive: bool = False,
    floor: float,
    multiple: float,
) -> float:
    """Return the per-test limit of ``test``: ``@timeout`` first, then adaptive, then default."""
    decorated = timeout_for(test)
    if decorated is not None:
        return decorated
    if adaptive:
        return adaptive_limit(p95, floor=floor, multiple=multiple, ceiling=default)
    return default


def _seconds(value: float) -> str:
    """Format seconds as the seed design did for whole numbers: 30, not 30.0."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def check_hierarchy(
    per_test: float | None, per_worker: float | None, global_: float | None
) -> list[str]:
    """Return the seed design's warnings when per-test >= per-worker or per-worker >= global.

    A limit of None (not enforced) is left out of the comparison.
    """
    warnings = []
    if per_test is not None and per_worker is not None and per_test >= per_worker:
        warnings.append(
            f"[CONCURRENT] Test timeout ({_seconds(per_test)}s) should be less than "
            f"worker timeout ({_seconds(per_worker)}s)"
        )
    if per_worker is not None and global_ is not None and per_worker >= global_:
        warnings.append(
            f"[CONCURRENT] Worker timeout ({_seconds(per_worker)}s) should be less than "
            f"global timeout ({_seconds(global_)}s)"
        )
    return warnings
