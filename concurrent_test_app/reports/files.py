"""Report files are written to a temporary name beside the target and renamed into place,
so a CI step that uploads one never sees half of it; the JSON report is one such file."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from concurrent_test_app.reports.records import RunReport

logger = logging.getLogger(__name__)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_lines(document: dict[str, Any], *, sort_keys: bool = False) -> str:
    """Return ``document`` as JSON with one line per top-level key and, inside a list or
    object there, one compact line per item: as readable and diffable as an indented file,
    and as fast as the C encoder, which ``indent`` turns off (4x slower on 2,000 tests)."""

    def dump(value: Any) -> str:  # Any: whatever JSON holds
        return json.dumps(value, allow_nan=False, sort_keys=sort_keys)

    lines = []
    for key in sorted(document) if sort_keys else document:
        value = document[key]
        if isinstance(value, list) and value:
            inner = ",\n".join(f"    {dump(item)}" for item in value)
            lines.append(f"  {dump(key)}: [\n{inner}\n  ]")
        elif isinstance(value, dict) and value:
            items = sorted(value.items()) if sort_keys else value.items()
            inner = ",\n".join(f"    {dump(k)}: {dump(v)}" for k, v in items)
            lines.append(f"  {dump(key)}: {{\n{inner}\n  }}")
        else:
            lines.append(f"  {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_json_report(report: RunReport, path: Path) -> None:
    """Write the run's JSON report (the shape of :meth:`RunReport.to_dict`) to ``path``."""
    write_atomic(Path(path), json_lines(report.to_dict()).encode("utf-8"))
    logger.debug("Wrote the JSON report to %s", path)
