"""Compare each runner's outcome of every test id with the serial run's, and name exceptions.

A test whose outcome differs from serial is one of:

- ``flaky``: its outcome differs between the two serial runs;
- ``order dependence``: it differs from serial under Django's ``--parallel 2`` too (the suite's
  own order dependence: any runner that splits the suite can show it);
- ``unexplained``: neither; for ``concurrent_test`` that is a failure to give the serial verdict.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from .runs import RunResult

logger = logging.getLogger(__name__)

# An id that a runner never reported at all.
MISSING = "missing"
FLAKY = "flaky: differs between two serial runs"
ORDER = "order dependence: differs under Django --parallel 2 too"
DJANGO_PARALLEL = "Django --parallel 2 itself differs from serial"
UNEXPLAINED = "unexplained"


@dataclass(frozen=True)
class Deviation:
    """One test id whose outcome under a runner is not the serial one, and why."""

    runner: str
    test_id: str
    serial: str
    outcome: str
    reason: str


def differing(serial: dict[str, str], other: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Return every id whose outcome differs, mapped to (serial outcome, other outcome)."""
    # Concurrent's not_run entries have no counterpart in a serial record: a test the serial
    # runner did not run is not reported to the result at all.
    ids = set(serial) | {test_id for test_id, outcome in other.items() if outcome != "not_run"}
    return {
        test_id: (serial.get(test_id, MISSING), other.get(test_id, MISSING))
        for test_id in sorted(ids)
        if serial.get(test_id, MISSING) != other.get(test_id, MISSING)
    }


def equal_to_serial(serial: dict[str, str], other: dict[str, str]) -> tuple[int, int]:
    """Return (ids with the serial outcome, ids in all) for ``other`` against ``serial``."""
    ids = set(serial) | {test_id for test_id, outcome in other.items() if outcome != "not_run"}
    return len(ids) - len(differing(serial, other)), len(ids)


def exceptions(runs: dict[str, RunResult]) -> list[Deviation]:
    """Return each id, under each runner, whose outcome is not the serial one, with a reason."""
    serial = runs.get("serial")
    if serial is None or not serial.outcomes:
        return []
    flaky = set()
    if "serial_again" in runs:
        flaky = set(differing(serial.outcomes, runs["serial_again"].outcomes))
    parallel = set()
    if "django_parallel" in runs:
        parallel = set(differing(serial.outcomes, runs["django_parallel"].outcomes))
    found = []
    for name, result in runs.items():
        if name == "serial" or not result.outcomes:
            continue
        for test_id, (was, now) in differing(serial.outcomes, result.outcomes).items():
            if test_id in flaky:
                reason = FLAKY
            elif name == "django_parallel":
                reason = DJANGO_PARALLEL
            elif test_id in parallel:
                reason = ORDER
            else:
                reason = UNEXPLAINED
            found.append(Deviation(name, test_id, was, now, reason))
    return found


def as_dicts(found: list[Deviation]) -> list[dict[str, Any]]:
    """Return the exceptions as plain dicts for the JSON results."""
    return [asdict(item) for item in found]
