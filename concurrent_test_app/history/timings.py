"""The timings file: the history's expectations as JSON, for machines that share no database.

A fresh CI runner reads it (``--timings-file`` or ``settings.TEST_TIMINGS_FILE``), each shard
writes its own back, and ``manage.py merge_test_timings`` merges the shards' files into one.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.history.averages import moving_average
from concurrent_test_app.history.recording import unit_totals
from concurrent_test_app.reports.files import json_lines, write_atomic
from concurrent_test_app.reports.records import RunReport

logger = logging.getLogger(__name__)

TIMINGS_VERSION = 1
TIMINGS_SOURCE = "--timings-file or settings.TEST_TIMINGS_FILE"


class UnitEntry(TypedDict):
    """What the file knows of one unit."""

    seconds: float  # expected, tests and set-up
    setup_seconds: float
    runs: int  # how many runs the average has seen
    updated_at: float  # epoch seconds


class TimingsDocument(TypedDict):
    """The whole file."""

    version: int
    units: dict[str, UnitEntry]


def _empty_document() -> TimingsDocument:
    return {"version": TIMINGS_VERSION, "units": {}}


def _number(value: object) -> float | None:
    """Return ``value`` as a finite, non-negative float, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


def read_timings_file(path: Path, *, source: str = TIMINGS_SOURCE) -> TimingsDocument:
    """Return the timings file's content: ``{"version": 1, "units": {key: entry}}``.

    Each entry has ``seconds`` (expected, tests and set-up), ``setup_seconds``, ``runs`` (how
    many runs the average has seen) and ``updated_at`` (epoch seconds). A file that does not
    exist yet is empty history; one that cannot be read or parsed is a configuration error.
    """
    path = Path(path)
    if not path.exists():
        return _empty_document()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(
            f"The timings file {path} (from {source}) cannot be read as JSON ({reason}); "
            "fix or delete it, or point the option at another file."
        ) from None
    units_raw = raw.get("units") if isinstance(raw, dict) else None
    version = raw.get("version", TIMINGS_VERSION) if isinstance(raw, dict) else None
    if not isinstance(units_raw, dict) or not isinstance(version, int):
        raise ConfigurationError(
            f"The timings file {path} (from {source}) is not a timings file (expected an object "
            'with "version" and "units"); delete it, or point the option at another file.'
        )
    if version > TIMINGS_VERSION:
        raise ConfigurationError(
            f"The timings file {path} (from {source}) has version {version}, newer than this "
            f"app reads ({TIMINGS_VERSION}); upgrade django-concurrent-test or delete the file."
        )
    units = {str(key): _entry(key, entry, path, source) for key, entry in units_raw.items()}
    return {"version": TIMINGS_VERSION, "units": units}


def _entry(key: object, entry: object, path: Path, source: str) -> UnitEntry:
    """Return one unit's entry as read from the file, or refuse it."""
    # A bare number is accepted too, so a hand-written file can be just {key: seconds}.
    fields = entry if isinstance(entry, dict) else {"seconds": entry}
    seconds = _number(fields.get("seconds"))
    if seconds is None:
        raise ConfigurationError(
            f"The timings file {path} (from {source}) gives unit {key!r} no valid number "
            'of "seconds"; fix that entry or delete the file.'
        )
    return {
        "seconds": seconds,
        "setup_seconds": _number(fields.get("setup_seconds")) or 0.0,
        "runs": int(_number(fields.get("runs")) or 1),
        "updated_at": _number(fields.get("updated_at")) or 0.0,
    }


def _write_document(document: TimingsDocument, path: Path) -> None:
    """Write ``document`` to ``path`` atomically, so a reader never sees half a file."""
    # TimingsDocument is a TypedDict: a dict[str, Any] to json_lines.
    write_atomic(Path(path), json_lines(dict(document), sort_keys=True).encode("utf-8"))


def write_timings_file(report: RunReport, path: Path) -> None:
    """Export this run's unit timings to ``path``, keeping the units it did not run."""
    try:
        document = read_timings_file(path)
    except ConfigurationError as exc:
        logger.warning("Replacing the timings file: %s", exc)
        document = _empty_document()
    units = document["units"]
    for key, entry in unit_totals(report).items():
        previous = units.get(key)
        if previous is None:
            seconds, runs = entry["seconds"], 1
        else:
            seconds = moving_average([entry["seconds"], previous["seconds"]])
            runs = previous["runs"] + 1
        units[key] = {
            "seconds": round(seconds, 6),
            "setup_seconds": round(entry["setup_seconds"], 6),
            "runs": runs,
            "updated_at": report.finished_at,
        }
    _write_document(document, path)
    logger.info("Wrote timings of %d units to %s", len(units), path)


def merge_timings_files(paths: Sequence[Path], out: Path) -> TimingsDocument:
    """Merge the timings files that several shards wrote into ``out`` and return the result.

    Every shard starts from the same file and updates the units it ran, so for each unit the
    most recently updated entry wins.
    """
    merged = _empty_document()
    for path in paths:
        if not Path(path).is_file():
            raise ConfigurationError(
                f"The timings file {path} given to merge_test_timings does not exist; "
                "pass the files the shards wrote with --timings-file."
            )
        document = read_timings_file(path, source="the merge_test_timings arguments")
        for key, entry in document["units"].items():
            current = merged["units"].get(key)
            if current is None or (entry["updated_at"], entry["runs"]) > (
                current["updated_at"],
                current["runs"],
            ):
                merged["units"][key] = entry
    _write_document(merged, out)
    return merged
