"""The runner's command-line options: their table, and argument types whose errors name the fix.

:meth:`ConcurrentTestRunner.add_arguments <concurrent_test_app.runner.ConcurrentTestRunner>`
adds Django's own options and then these, so ``manage.py concurrent_test`` and a
``TEST_RUNNER`` subclass under ``manage.py test`` take the same flags.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


# -- argument types: each error names the flag and the fix -------------------------------------


def _checked(
    value: str, convert: Callable[[str], _T], accept: Callable[[_T], bool], fix: str
) -> _T:
    """Return ``convert(value)`` if it converts and is accepted; else raise argparse's error."""
    try:
        converted = convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} {fix}") from None
    if not accept(converted):
        raise argparse.ArgumentTypeError(f"{value!r} {fix}")
    return converted


def workers_type(value: str) -> int | str:
    """Parse ``--workers``: a whole number of 1 or more, or "auto"."""
    if value == "auto":
        return value
    return _checked(
        value,
        int,
        lambda n: n >= 1,
        "is not a worker count; pass a whole number of 1 or more, or 'auto'.",
    )


def shard_type(value: str) -> tuple[int, int]:
    """Parse ``--shard K/N`` (K counted from 1)."""

    def convert(text: str) -> tuple[int, int]:
        k_text, n_text = text.split("/")
        return int(k_text), int(n_text)

    return _checked(
        value,
        convert,
        lambda kn: kn[1] >= 1 and 1 <= kn[0] <= kn[1],
        "is not a shard; pass K/N with 1 <= K <= N, such as --shard 2/4.",
    )


def seconds_type(value: str) -> float:
    """Parse a timeout flag: seconds, 0 or more (0 turns the limit off)."""
    return _checked(
        value, float, lambda n: n >= 0, "is not a number of seconds; pass 0 or more, such as 30."
    )


def positive_int_type(value: str) -> int:
    """Parse a count flag: a whole number of 1 or more."""
    return _checked(value, int, lambda n: n >= 1, "is not a whole number of 1 or more.")


def megabytes_type(value: str) -> float:
    """Parse a memory flag: megabytes above 0."""
    return _checked(
        value, float, lambda n: n > 0, "is not a size in MB; pass a number above 0, such as 1024."
    )


# -- the table ---------------------------------------------------------------------------------


def add_arguments(
    parser: argparse.ArgumentParser, schedulers: Iterable[str], default_scheduler: str
) -> None:
    """Add the concurrent runner's options to ``parser``, which has Django's already."""
    for action in parser._actions:
        if "--parallel" in action.option_strings:
            # Django's --parallel takes 0 for "serial"; here it is --workers by another name.
            action.type = workers_type
            action.default = None
            action.help = "Synonym of --workers."
    group = parser.add_argument_group("concurrent_test")
    group.add_argument(
        "--workers",
        type=workers_type,
        default=None,
        metavar="N|auto",
        help="Number of worker processes, or 'auto' (CPUs, memory and units). "
        "--parallel N is a synonym.",
    )
    group.add_argument(
        "--shard",
        type=shard_type,
        default=None,
        metavar="K/N",
        help="Run only shard K of N (K from 1), balanced by timing history.",
    )
    group.add_argument(
        "--scheduler",
        default=default_scheduler,
        choices=sorted(schedulers),
        help="Which unit goes next: longest expected first (default) or discovery order.",
    )
    for flag, help_text in (
        ("--timeout", "Main timeout (default DJANGO_TEST_TIMEOUT or 3600 s)."),
        ("--timeout-per-test", "Longest a test may take (default 30 s; 0 = no limit)."),
        ("--timeout-per-worker", "Longest a worker may spend on one unit (0 = no limit)."),
        ("--timeout-global", "Longest the whole run may take; exit status 3 past it."),
    ):
        group.add_argument(flag, type=seconds_type, default=None, metavar="SECONDS", help=help_text)
    group.add_argument("--json-report", metavar="PATH", help="Write the JSON report here.")
    group.add_argument("--junit-xml", metavar="PATH", help="Write JUnit XML here.")
    group.add_argument("--metrics-file", metavar="PATH", help="Write Prometheus metrics here.")
    group.add_argument(
        "--timings-file",
        metavar="PATH",
        help="Timings file to read before and write after the run (TEST_TIMINGS_FILE).",
    )
    group.add_argument(
        "--no-history", action="store_true", help="Neither read nor write timing history."
    )
    group.add_argument(
        "--rebuild-template",
        action="store_true",
        help="Build the template databases again even when they are current.",
    )
    group.add_argument(
        "--max-worker-memory",
        type=megabytes_type,
        default=None,
        metavar="MB",
        help="Replace a worker between units once its memory passes MB "
        "(DJANGO_TEST_WORKER_MAX_MEMORY_MB).",
    )
    group.add_argument(
        "--max-units-per-worker",
        type=positive_int_type,
        default=None,
        metavar="N",
        help="Replace a worker after it ran N units.",
    )
    group.add_argument(
        "--max-restarts",
        type=positive_int_type,
        default=None,
        metavar="N",
        help="How many crashed or timed-out workers may be replaced in one run.",
    )
    group.add_argument(
        "--adaptive-timeouts",
        action="store_true",
        help="Limit each test to a multiple of its 95th-percentile duration in history.",
    )
    group.add_argument(
        "--start-method",
        choices=("fork", "spawn", "forkserver"),
        default=None,
        help="How worker processes start (default: the platform's).",
    )
    group.add_argument(
        "--no-progress",
        action="store_false",
        dest="progress",
        help="Do not draw the progress bar on a terminal.",
    )
    if sys.version_info < (3, 12):
        # Django offers --durations only on Python 3.12+; offer it everywhere.
        parser.add_argument(
            "--durations",
            dest="durations",
            type=int,
            default=None,
            metavar="N",
            help="Show the N slowest test cases (N=0 for all).",
        )
