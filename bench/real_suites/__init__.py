"""Real open-source Django suites under Django's runners and ``concurrent_test``, id by id.

``python -m bench.real_suites prepare`` checks out each project at its pinned commit (see
:mod:`bench.real_suites.projects`) outside the repository and installs it into a virtualenv of
its own; ``python -m bench.real_suites`` then runs every suite on every vendor it supports under
Django's serial runner (twice), Django's ``--parallel 2`` and ``concurrent_test --workers 2``
cold and warm, compares every test id's outcome with the serial run's (see
:mod:`bench.real_suites.compare`) and writes ``bench/results/real_suites.md`` and ``.json``.
Nothing here reaches the network by itself, and nothing is fetched on import.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_ROOT = Path("/work/real_suites")


def checkouts_root() -> Path:
    """Return the folder that holds the checkouts (``REAL_SUITES_DIR``, else the default)."""
    return Path(os.environ.get("REAL_SUITES_DIR") or DEFAULT_ROOT)


class RealSuitesError(Exception):
    """A step of the harness failed; the message says which and what to do."""
