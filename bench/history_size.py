"""History size: what a run's history work costs after N past runs of M tests.

Run it as a file, from the checkout whose app it should time::

    PYTHONPATH=. .venv/bin/python bench/history_size.py --runs 5,100 --tests 2000

It fills a throwaway SQLite history (a file in a temporary folder) with N runs of M tests
through the app's own ``record_run`` on synthetic reports, then times at each N: recording one
more run (rolled back, so the history stays at N runs) and each history read a run makes at
start-up (``load_expected``, ``load_split_costs``, ``worker_memory_p90``,
``test_duration_p95``). It prints one markdown table row per N: medians of ``--repeat`` calls,
in milliseconds of wall and of CPU time. With ``PYTHONPATH`` naming another checkout (from
``git archive``, say) it times that checkout's app: that is how before and after are compared.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the app is imported once Django is configured
    from concurrent_test_app.reports.records import RunReport

logger = logging.getLogger(__name__)

START = 1_790_000_000.0  # a fixed moment: runs sort the way they were made
TESTS_PER_UNIT = 20
# One test in this many flips between passing and failing; one in SKIP_EVERY is always skipped.
FLAKY_EVERY = 100
SKIP_EVERY = 50
COLUMNS = (
    "record_run",
    "load_expected",
    "load_split_costs",
    "worker_memory_p90",
    "test_duration_p95",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        default="5,100",
        type=lambda text: sorted({int(part) for part in text.split(",")}),
        help="history sizes to time at, in runs, comma-separated (default 5,100)",
    )
    parser.add_argument("--tests", type=int, default=2000, help="tests per run (default 2000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="calls timed per figure; the median is shown"
    )
    return parser.parse_args(argv)


def setup_django(database: Path) -> None:
    """Configure Django on a fresh SQLite file and create the history tables."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        INSTALLED_APPS=["django.contrib.contenttypes", "concurrent_test_app"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()
    call_command("migrate", verbosity=0)


def unit_keys(tests: int) -> list[str]:
    return [f"bench_app.tests.test_part{n // 10}.Class{n}" for n in range(tests // TESTS_PER_UNIT)]


def synthetic_report(number: int, tests: int) -> RunReport:
    """Return the report of run ``number``: ``tests`` tests in classes of TESTS_PER_UNIT."""
    from concurrent_test_app.reports.records import (
        CaseRecord,
        RunReport,
        TemplateRecord,
        UnitRecord,
        WorkerRecord,
    )

    rng = random.Random(number)
    records: list[CaseRecord] = []
    units: list[UnitRecord] = []
    busy = {1: 0.0, 2: 0.0}
    for index, key in enumerate(unit_keys(tests)):
        slot = index % 2 + 1
        setup = 0.01 + rng.random() / 50
        seconds = setup
        for number_in_unit in range(TESTS_PER_UNIT):
            serial = index * TESTS_PER_UNIT + number_in_unit
            outcome = "passed"
            if serial % SKIP_EVERY == 0:
                outcome = "skipped"
            elif serial % FLAKY_EVERY == 1 and rng.random() < 0.3:
                outcome = "failed"
            duration = rng.uniform(0.001, 0.05)
            seconds += duration
            message = "Traceback: failed" if outcome == "failed" else ""
            records.append(
                CaseRecord(f"{key}.test_{number_in_unit}", outcome, duration, slot, message, key)
            )
        units.append(UnitRecord(key, slot, seconds, setup))
        busy[slot] += seconds
    failures = sum(1 for record in records if record.outcome == "failed")
    skipped = sum(1 for record in records if record.outcome == "skipped")
    wall = max(busy.values()) + 1.0
    started = START + number * 600
    return RunReport(
        summary={
            "tests_run": len(records),
            "passed": len(records) - failures - skipped,
            "failures": failures,
            "skipped": skipped,
            "wall_seconds": wall,
            "workers": 2,
            "successful": not failures,
        },
        tests=records,
        workers=[
            WorkerRecord(slot, f"test_bench_{slot}", busy_seconds=busy[slot], memory_peak_mb=90.0)
            for slot in busy
        ],
        templates=[TemplateRecord("default", "test_bench_tpl", "abc123", True, 0.1)],
        units=units,
        started_at=started,
        finished_at=started + wall,
        vendor="sqlite",
        exit_status=1 if failures else 0,
    )


def record(report: RunReport) -> None:
    """Record ``report`` with the app's own ``record_run``; refuse to go on when it cannot."""
    from concurrent_test_app.history import record_run

    if not record_run(report):
        raise RuntimeError("record_run did not record the run; its warning above says why")


def median_ms(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median wall and CPU milliseconds of ``repeat`` calls.

    SQLite works inside this process, so its CPU time is the cost of the call; the wall time
    also counts what other processes took from a shared machine.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def measure(recorded: int, tests: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Return the median wall and CPU milliseconds of each call with ``recorded`` past runs."""
    from django.db import transaction

    from concurrent_test_app.history import (
        load_expected,
        load_split_costs,
        test_duration_p95,
        worker_memory_p90,
    )

    keys = unit_keys(tests)
    report = synthetic_report(recorded, tests)
    ids = [case.id for case in report.tests]

    def record_rolled_back() -> None:
        with transaction.atomic():
            record(report)
            transaction.set_rollback(True)

    calls: dict[str, Callable[[], object]] = {
        "record_run": record_rolled_back,
        "load_expected": lambda: load_expected(keys),
        "load_split_costs": lambda: load_split_costs(keys, ids),
        "worker_memory_p90": worker_memory_p90,
        "test_duration_p95": lambda: test_duration_p95(ids),
    }
    return {name: median_ms(call, repeat) for name, call in calls.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="history-size-") as folder:
        setup_django(Path(folder) / "history.sqlite3")
        from concurrent_test_app.models import CaseResult

        print(
            f"{args.tests} tests per run; medians of {args.repeat} calls, milliseconds wall / CPU\n"
        )
        print("| runs in history | CaseResult rows | " + " | ".join(COLUMNS) + " |")
        print("|---:|---:|" + "---:|" * len(COLUMNS))
        recorded = 0
        for runs in args.runs:
            while recorded < runs:
                record(synthetic_report(recorded, args.tests))
                recorded += 1
            figures = measure(recorded, args.tests, args.repeat)
            cells = " | ".join("{:.0f} / {:.0f}".format(*figures[name]) for name in COLUMNS)
            print(f"| {runs} | {CaseResult.objects.count()} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
