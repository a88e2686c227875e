"""Where the seconds of one ``concurrent_test`` run go: a timeline of its phases.

Run from a project's directory, in place of ``python manage.py``::

    python /path/to/bench/phases.py manage.py concurrent_test --workers 2 --no-progress
    python /path/to/bench/phases.py -m django concurrent_test --workers 2 --no-progress

It wraps the runner's phases and the pool's first and last events, runs the command in this
process, and prints one line per phase to standard error at exit, in seconds since the
interpreter started. It changes nothing the command does; the numbers are wall clock, so run
it a few times on a shared machine.
"""

from __future__ import annotations

import atexit
import functools
import runpy
import sys
import time
from collections.abc import Callable
from typing import Any

# The interpreter's own start, before this file ran (imports of the site, the venv).
try:
    import psutil

    ORIGIN = psutil.Process().create_time()
    WALL_ORIGIN = time.time()
except ImportError:  # pragma: no cover - psutil is a dependency of the app
    ORIGIN = WALL_ORIGIN = time.time()

MARKS: list[tuple[str, float, float]] = [("this script starts", WALL_ORIGIN, time.process_time())]
FIRSTS: dict[str, float] = {}
LASTS: dict[str, float] = {}


CPU: dict[str, float] = {}


def mark(label: str) -> None:
    MARKS.append((label, time.time(), time.process_time()))
    if label.startswith("runner.run_pool"):
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        CPU[label] = time.process_time()
        CPU[label + " children"] = children.ru_utime + children.ru_stime


def wrap(owner: Any, name: str, label: str) -> None:  # Any: any class or module
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        mark(f"{label} begins")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"{label} ends")

    setattr(owner, name, timed)


def install() -> None:
    import django

    wrap(django, "setup", "django.setup")
    from concurrent_test_app import runner
    from concurrent_test_app.execution import outcome, plan, pool
    from concurrent_test_app.history import recording

    cls = runner.ConcurrentTestRunner
    for name in (
        "run_tests",
        "plan",
        "build_suite",
        "load_expected",
        "choose_workers",
        "setup_worker_databases",
        "run_checks",
        "run_pool",
        "finish",
    ):
        wrap(cls, name, f"runner.{name}")
    wrap(plan.RunPlan, "split", "RunPlan.split (history of class costs)")
    wrap(pool.WorkerPool, "_loop", "pool loop")
    wrap(pool.WorkerPool, "_stop_all", "pool stop_all")
    wrap(cls.databases_class, "prepare_slots", "clones (prepare_slots)")
    if hasattr(cls.databases_class, "begin_teardown"):
        wrap(cls.databases_class, "begin_teardown", "databases teardown starts")
        wrap(cls.databases_class, "end_teardown", "databases teardown (rest; after finish)")
        wrap(cls.databases_class, "_clear", "clones dropped or made ready (a thread)")
    else:  # before the teardown ran beside finish()
        wrap(cls.databases_class, "teardown", "databases teardown")
    wrap(recording, "record_run", "history record_run")
    wrap(outcome, "run_report", "run_report")
    for name in ("write_json_report", "write_junit_xml"):
        if hasattr(outcome, name):
            wrap(outcome, name, name)
    original_handle = pool.WorkerPool._handle

    def handle(self: Any, worker: Any, message: object) -> None:
        kind = type(message).__name__
        now = time.time()
        FIRSTS.setdefault(kind, now)
        LASTS[kind] = now
        original_handle(self, worker, message)

    pool.WorkerPool._handle = handle  # type: ignore[method-assign]
    install_worker_gaps()


def install_worker_gaps() -> None:
    """In each (forked) worker, add up the time between one unit's end and the next's start."""
    import os

    from concurrent_test_app.worker import main as worker_main

    original = worker_main._run_unit
    state = {"ended": 0.0, "idle": 0.0, "units": 0.0}

    def run_unit(*args: Any, **kwargs: Any) -> None:
        began = time.perf_counter()
        if state["ended"]:
            state["idle"] += began - state["ended"]
        try:
            original(*args, **kwargs)
        finally:
            state["ended"] = time.perf_counter()
            state["units"] += 1
            sys.stderr.write(
                f"[phases] worker {os.getpid()}: {state['units']:.0f} units, "
                f"{state['idle']:.3f} s idle between them\n"
            )

    worker_main._run_unit = run_unit


def report() -> None:
    end = time.time()
    for kind, at in FIRSTS.items():
        MARKS.append((f"first {kind} received", at, -1.0))
    for kind, at in LASTS.items():
        MARKS.append((f"last {kind} received", at, -1.0))
    MARKS.append(("exit", end, time.process_time()))
    started = WALL_ORIGIN - ORIGIN
    sys.stderr.write(f"\n[phases] interpreter start = 0.000 (this script at {started:.3f})\n")
    sys.stderr.write("[phases]    wall   parent CPU\n")
    for label, at, cpu in sorted(MARKS, key=lambda item: item[1]):
        spent = f"{cpu:7.3f}" if cpu >= 0 else " " * 7
        sys.stderr.write(f"[phases] {at - ORIGIN:7.3f} {spent}  {label}\n")
    if "runner.run_pool ends" in CPU:
        parent = CPU["runner.run_pool ends"] - CPU["runner.run_pool begins"]
        children = CPU["runner.run_pool ends children"] - CPU["runner.run_pool begins children"]
        sys.stderr.write(f"[phases] CPU seconds in run_pool: parent {parent:.3f}, ")
        sys.stderr.write(f"workers {children:.3f}\n")


def main() -> None:
    script, *rest = sys.argv[1:]
    module = None
    if script == "-m":  # ``phases.py -m django test ..`` in place of ``python -m django ..``
        module, *rest = rest
    sys.argv = [script if module is None else module, *rest]
    sys.path.insert(0, ".")
    atexit.register(report)
    import django.core.management

    original = django.core.management.execute_from_command_line

    def execute(argv: list[str] | None = None) -> None:
        mark("manage.py calls execute_from_command_line")
        import django

        django.setup()
        install()
        original(argv)

    django.core.management.execute_from_command_line = execute
    if module is not None:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
