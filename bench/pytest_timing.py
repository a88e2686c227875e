"""A pytest plugin the bench loads (``-p bench.pytest_timing``): each worker's database set-up.

It times the ``django_db_setup`` fixture in every process that runs tests (pytest-django's or
the concurrent_test plugin's, whichever wins) and appends ``<worker> <seconds>`` to the file
named by ``BENCH_PYTEST_SETUP_FILE``. The bench takes the slowest worker's as the run's
database set-up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None]:
    if fixturedef.argname != "django_db_setup":
        return (yield)
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        seconds = time.perf_counter() - started
        path = os.environ.get("BENCH_PYTEST_SETUP_FILE")
        if path:
            worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"{worker} {seconds:.6f}\n")
