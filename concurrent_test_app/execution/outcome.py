"""How a run ended: the pool's outcome, the command's exit status and the summary counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from concurrent_test_app.reports.records import WorkerRecord

logger = logging.getLogger(__name__)


@dataclass
class PoolOutcome:
    """How the pool's run ended, and each slot's workers."""

    global_timeout: bool = False
    interrupted: int | None = None  # the signal number that stopped the run
    workers: list[WorkerRecord] = field(default_factory=list)
    wall_seconds: float = 0.0
