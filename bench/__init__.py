"""``make bench``: django-concurrent-test against Django's own test runner, side by side.

``python -m bench`` generates the benchmark projects under ``bench/generated/`` (see
:mod:`bench.suites`), runs every runner on every vendor in alternating order (see
:mod:`bench.runners`), and writes the medians and ratios to ``bench/results/latest.md`` and
``latest.json``. ``python -m bench --help`` lists the flags that select suites, vendors and the
number of timed runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
GENERATED_DIR = BENCH_DIR / "generated"
RESULTS_DIR = BENCH_DIR / "results"


class BenchError(Exception):
    """A benchmark step failed; the message says which and how to reproduce it."""
