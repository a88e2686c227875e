"""Timing history: what past runs say this run will take, and this run written down for the next.

- :mod:`.store`: which database holds history, whether it can, and how to read it.
- :mod:`.expected`: each unit's expected duration, the workers' memory p90, each test's p95.
- :mod:`.recording`: :func:`record_run`, which writes a finished run into the database.
- :mod:`.timings`: the timings file, the same expectations for machines without the database.
- :mod:`.averages`: the moving average and the percentile the others share.
- :mod:`.charts`: the admin's SVG charts.

The runner calls :func:`load_expected` before the test databases exist (on the real database)
and :func:`record_run` after they are torn down. Neither may end a run: a database without the
history tables, or no database at all, just means "no history".
"""

from __future__ import annotations

from concurrent_test_app.history.averages import RECENT_WEIGHT
from concurrent_test_app.history.expected import (
    HISTORY_WINDOW,
    MEMORY_WINDOW,
    SplitCosts,
    expected_from_timings_file,
    load_expected,
    load_split_costs,
    setup_from_timings_file,
    test_duration_p95,
    worker_memory_p90,
)
from concurrent_test_app.history.recording import (
    class_of,
    git_revision,
    is_flaky,
    record_run,
    run_outcome,
    unit_totals,
)
from concurrent_test_app.history.store import MIGRATE_HINT, history_tables_exist
from concurrent_test_app.history.timings import (
    TIMINGS_SOURCE,
    TIMINGS_VERSION,
    merge_timings_files,
    read_timings_file,
    write_timings_file,
)
from concurrent_test_app.models import FLAKY_WINDOW

__all__ = [
    "FLAKY_WINDOW",
    "HISTORY_WINDOW",
    "MEMORY_WINDOW",
    "MIGRATE_HINT",
    "RECENT_WEIGHT",
    "TIMINGS_SOURCE",
    "TIMINGS_VERSION",
    "SplitCosts",
    "class_of",
    "expected_from_timings_file",
    "git_revision",
    "history_tables_exist",
    "is_flaky",
    "load_expected",
    "load_split_costs",
    "merge_timings_files",
    "read_timings_file",
    "record_run",
    "run_outcome",
    "setup_from_timings_file",
    "test_duration_p95",
    "unit_totals",
    "worker_memory_p90",
    "write_timings_file",
]
