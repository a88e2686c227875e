"""The structured line each worker leaves when it finishes, and where it goes.

Through the logger ``concurrent_test_app.workers``, at INFO, one line per worker::

    [CONCURRENT] Worker 1 completed: database=test_shop_1, tests=120, duration=42.17s, \
queries=5310, memory_peak=212.4MB

or, with ``CONCURRENT_TEST_LOGGING = {"format": "json"}``, one JSON object per line. With
``"file": PATH`` the lines are also appended to that file. :func:`configure` sets this up once
per run: at verbosity 2 and up the lines are printed on standard error too; at verbosity 0
nothing of this logger reaches the console (not even through the project's own root handlers).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from concurrent_test_app.conf import app_settings
from concurrent_test_app.reports.records import WorkerRecord

logger = logging.getLogger(__name__)

WORKER_LOGGER = "concurrent_test_app.workers"
worker_logger = logging.getLogger(WORKER_LOGGER)

# Marks the handlers configure() added, so that calling it again replaces them, never stacks.
_OURS = "_concurrent_test_handler"
_state = {"configured": False}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever ``sys.stderr`` is when a record comes, not what it was at set-up."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        # StreamHandler.__init__ assigns the stream; the property always answers sys.stderr.
        pass


def _format() -> str:
    return str(app_settings.logging["format"])


def _value(value: object) -> str:
    """Return ``value`` for a key=value line, quoted when it would break the line's parsing."""
    text = str(value)
    if not text or any(ch in text for ch in ' ,="\n\t'):
        return json.dumps(text)
    return text


def worker_fields(worker: WorkerRecord, wall_seconds: float) -> dict[str, Any]:
    """Return the figures of one finished worker, as the JSON line holds them."""
    return {
        "event": "worker_completed",
        "worker": worker.slot,
        "database": worker.database,
        "tests": worker.tests,
        "units": worker.units,
        "duration": round(wall_seconds, 3),
        "busy_seconds": round(worker.busy_seconds, 3),
        "utilisation": round(worker.busy_seconds / wall_seconds, 4) if wall_seconds > 0 else 0.0,
        "queries": worker.queries,
        "memory_peak_mb": round(worker.memory_peak_mb, 1),
        "restarts": worker.restarts,
        "recycles": worker.recycles,
    }


def format_keyvalue(worker: WorkerRecord, wall_seconds: float) -> str:
    """Return the key=value line of one finished worker."""
    return (
        f"[CONCURRENT] Worker {worker.slot} completed: "
        f"database={_value(worker.database)}, "
        f"tests={worker.tests}, "
        f"duration={wall_seconds:.2f}s, "
        f"queries={worker.queries}, "
        f"memory_peak={worker.memory_peak_mb:.1f}MB"
    )


def format_json(worker: WorkerRecord, wall_seconds: float) -> str:
    """Return the JSON line of one finished worker (one object, no newline inside)."""
    fields = {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        **worker_fields(worker, wall_seconds),
    }
    return json.dumps(fields, separators=(",", ":"))


def worker_completed(worker: WorkerRecord, wall_seconds: float) -> None:
    """Log the line of one finished worker; ``wall_seconds`` is its life from start to stop.

    If :func:`configure` was not called, it is called here at verbosity 1, so that a log file
    set in ``CONCURRENT_TEST_LOGGING`` still gets the line.
    """
    if not _state["configured"]:
        configure(verbosity=1)
    if _format() == "json":
        line = format_json(worker, wall_seconds)
    else:
        line = format_keyvalue(worker, wall_seconds)
    worker_logger.info("%s", line)


def close() -> None:
    """Remove and close the handlers :func:`configure` added."""
    _state["configured"] = False
    for handler in list(worker_logger.handlers):
        if getattr(handler, _OURS, False):
            worker_logger.removeHandler(handler)
            handler.close()


def configure(verbosity: int = 1) -> None:
    """Set up the worker logger for one run; calling it again replaces what it set up.

    The log file of ``CONCURRENT_TEST_LOGGING["file"]`` (appended to, parent directories
    created) gets every line; standard error gets them at verbosity 2 and up; at verbosity 0
    the logger stops propagating, so no console handler of the project prints them either.
    """
    settings = app_settings.logging
    close()
    _state["configured"] = True
    worker_logger.setLevel(logging.INFO)
    worker_logger.propagate = verbosity > 0
    plain = logging.Formatter("%(message)s")
    target = settings.get("file")
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        file_handler.setFormatter(plain)
        setattr(file_handler, _OURS, True)
        worker_logger.addHandler(file_handler)
    if verbosity >= 2:
        console = _StderrHandler()
        console.setFormatter(plain)
        setattr(console, _OURS, True)
        worker_logger.addHandler(console)
    logger.debug(
        "Worker log: format=%s file=%s verbosity=%s", settings["format"], target, verbosity
    )
