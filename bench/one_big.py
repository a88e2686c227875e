"""Generate the one_big suite: one TestCase class holding 60% of the work, discovered last.

Shaped like the real suite of issue 14, where one class of about 50 tests bounded the run: no
scheduling of whole classes can finish before that class, so only splitting it across the
workers gets a 2-worker run near half the work. The other 40% is a dozen short classes,
discovered first. The CPU work is :mod:`bench.suites`' calibrated ``burn()``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .suites import APP, SuiteProject, SuiteShape, _remove_stale, _scaffold, _write, calibrate

logger = logging.getLogger(__name__)

# Of the planned work, the share the one big class holds.
BIG_SHARE = 0.6

ONE_BIG_CLASS = '''\
"""one_big suite, class {name}: about {seconds:.2f} s of CPU work (from bench/one_big.py)."""

from __future__ import annotations

from django.test import TestCase

from benchkit.models import Record
from benchkit.work import burn

# Rounds of burn() per test ({test_seconds:.3f} s) and for the class set-up ({setup_seconds:.3f} s)
# at {rate:,.0f} rounds per second, as calibrated when this file was generated.
TEST_LOOPS = {test_loops}
SETUP_LOOPS = {setup_loops}
LABEL = "{label}"


class {name}(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        burn(SETUP_LOOPS)
        Record.objects.create(label=f"{{LABEL}}-seed", value=0)

{methods}
    def check_work(self, name: str) -> None:
        result = burn(TEST_LOOPS)
        Record.objects.create(label=f"{{LABEL}}-{{name}}", value=1)
        self.assertEqual(Record.objects.filter(label__startswith=LABEL).count(), 2)
        self.assertGreaterEqual(result, 0)
'''

ONE_BIG_METHOD = """\
    def test_{index:03d}(self) -> None:
        self.check_work("{index:03d}")
"""


def one_big_plan(quick: bool = False) -> tuple[list[tuple[int, float]], float]:
    """Return the small classes as (tests, seconds) and the big class's seconds.

    Full: 16 seconds of work, the big class 9.6 s in 32 tests, twelve small classes of four
    tests, 6.4 s in all. Quick: 2 seconds, the big class in 8 tests.
    """
    total = 2.0 if quick else 16.0
    count = 4 if quick else 12
    small = total * (1 - BIG_SHARE) / count
    return [(4, small)] * count, total * BIG_SHARE


def _class_file(
    name: str, label: str, tests: int, seconds: float, setup: float, rate: float
) -> str:
    test_seconds = (seconds - setup) / tests
    return ONE_BIG_CLASS.format(
        name=name,
        label=label,
        seconds=seconds,
        test_seconds=test_seconds,
        setup_seconds=setup,
        rate=rate,
        test_loops=max(1, int(test_seconds * rate)),
        setup_loops=max(1, int(setup * rate)),
        methods="\n".join(ONE_BIG_METHOD.format(index=i) for i in range(tests)),
    )


def generate_one_big(
    generated_dir: Path, *, quick: bool = False, rate: float | None = None
) -> SuiteProject:
    """Write the one_big project under ``generated_dir`` and return it."""
    name = "one_big_quick" if quick else "one_big"
    root = generated_dir / name
    rate = rate or calibrate()
    small, big_seconds = one_big_plan(quick)
    big_tests = 8 if quick else 32
    _scaffold(root, name)
    tests_dir = root / APP / "tests"
    written: set[str] = {"__init__.py"}
    for number, (tests, seconds) in enumerate(small, start=1):
        filename = f"test_s{number:02d}.py"
        text = _class_file(f"Small{number:02d}Tests", f"s{number:02d}", tests, seconds, 0.0, rate)
        _write(tests_dir / filename, text)
        written.add(filename)
    # Last in discovery order, as a late module of a real project would be.
    setup = big_seconds / big_tests / 2
    _write(
        tests_dir / "test_z_big.py",
        _class_file("BigTests", "big", big_tests, big_seconds, setup, rate),
    )
    written.add("test_z_big.py")
    _remove_stale(tests_dir, written, "test_*.py")
    planned = [seconds for _, seconds in small] + [big_seconds]
    return SuiteProject(
        name=name,
        root=root,
        database=f"bench_{name}",
        description=(
            f"one TestCase class of {big_tests} tests holding {BIG_SHARE:.0%} of the CPU-bound "
            f"work ({big_seconds:g} s, last in discovery order) and {len(small)} short classes"
        ),
        shape=SuiteShape(
            tests=big_tests + sum(tests for tests, _ in small),
            units=len(small) + 1,
            planned_seconds=planned,
        ),
        warmup_labels=(f"{APP}.tests.test_s01", f"{APP}.tests.test_s02"),
        extra={"rounds_per_second": round(rate)},
    )
