"""Report files are written to a temporary name beside the target and renamed into place,
so a CI step that uploads one never sees half of it; the JSON report is one such file."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

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


def write_json_report(report: RunReport, path: Path) -> None:
    """Write the run's JSON report (the shape of :meth:`RunReport.to_dict`) to ``path``."""
    text = json.dumps(report.to_dict(), indent=2, allow_nan=False)
    write_atomic(Path(path), (text + "\n").encode("utf-8"))
    logger.debug("Wrote the JSON report to %s", path)
