"""How many workers a run gets, and whether there is memory to hand out another unit.

The CPU count honours the scheduler affinity mask and a cgroup CPU quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us``), so a CI container limited to two CPUs on a 64-core host gets two
workers. Available memory is psutil's figure, lowered to the cgroup memory headroom when there
is a limit, because psutil reports the host's memory inside a container (see cgroups.py).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from concurrent_test_app.conf import app_settings
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.execution.cgroups import cgroup_cpu_limit, cgroup_memory_headroom

logger = logging.getLogger(__name__)

MB = 1024 * 1024
GB = 1024 * MB
# The seed design's threshold: with less than this available, run at most LOW_MEMORY_WORKERS.
LOW_MEMORY_BYTES = 2 * GB
LOW_MEMORY_WORKERS = 2


def _affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask
        return os.cpu_count() or 1


def usable_cpus(
    cgroup_root: Path | str | None = None, proc_cgroup: Path | str | None = None
) -> int:
    """Return how many CPUs this process may use: its affinity mask, capped by a cgroup quota."""
    cpus = _affinity_cpus()
    quota = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if quota is not None:
        # Round a fractional quota up, as the JVM does: 1.5 CPUs keep two workers busy enough
        # (they also wait on the database), while one would leave half the quota unused.
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


# -- memory ------------------------------------------------------------------------------------


def available_memory_bytes(
    cgroup_root: Path | str | None = None, proc_cgroup: Path | str | None = None
) -> int | None:
    """Return the memory available to new workers, or None when it cannot be measured."""
    figures = []
    try:
        import psutil
    except ImportError:
        pass
    else:
        figures.append(int(psutil.virtual_memory().available))
    headroom = cgroup_memory_headroom(cgroup_root, proc_cgroup)
    if headroom is not None:
        figures.append(headroom)
    return min(figures) if figures else None


def memory_workers(available_bytes: float, per_worker_mb: float) -> int:
    """Return how many workers fit in ``available_bytes`` at ``per_worker_mb`` each (at least 1).

    As in the seed design: below 2 GB available, at most 2 workers, with a warning.
    """
    if per_worker_mb <= 0:
        raise ConfigurationError(
            f"The memory estimate per worker is {per_worker_mb!r} MB; "
            "set DJANGO_TEST_MEMORY_PER_WORKER_MB to a number of megabytes above 0."
        )
    fitting = max(1, int(available_bytes / (per_worker_mb * MB)))
    if available_bytes < LOW_MEMORY_BYTES:
        available_gb = available_bytes / GB
        logger.warning("[CONCURRENT] Low memory available: %.1fGB, limiting workers", available_gb)
        return min(LOW_MEMORY_WORKERS, fitting)
    return fitting


def rss_mb(pid: int) -> float:
    """Return the resident memory of process ``pid`` in MB; 0.0 if it is gone or unmeasurable."""
    try:
        import psutil
    except ImportError:
        return 0.0
    try:
        return float(psutil.Process(pid).memory_info().rss) / MB
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0.0


# -- the decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerDecision:
    """How many workers a run starts, and why, in words for the console and the report."""

    count: int
    reason: str
    cpus: int | None = None
    memory_workers: int | None = None
    available_mb: float | None = None
    per_worker_mb: float | None = None


def _parse_requested(requested: int | str) -> int | None:
    """Return the explicit worker count of ``--workers``, or None for ``auto``."""
    if isinstance(requested, str):
        text = requested.strip().lower()
        if text == "auto":
            return None
        if text.isdigit():
            requested = int(text)
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ConfigurationError(
            f"--workers {requested} is not a number of workers; "
            "pass a whole number of 1 or more, or auto."
        )
    return requested


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def decide_workers(
    requested: int | str,
    units: int,
    *,
    history_p90_mb: float | None = None,
    cpus: int | None = None,
    available_bytes: int | None = None,
) -> WorkerDecision:
    """Return how many workers to start for ``units`` work units.

    An explicit number is used as given, but never more than ``units``. ``auto`` is the
    smallest of the usable CPUs, the memory estimate (``history_p90_mb`` per worker when the
    timing history has one, else ``memory_per_worker_mb``) and ``units``, clamped to
    DJANGO_TEST_MIN_WORKERS..DJANGO_TEST_MAX_WORKERS and again never more than ``units``.
    ``cpus`` and ``available_bytes`` are measured when not given. With no units, no workers.
    """
    explicit = _parse_requested(requested)
    if units <= 0:
        return WorkerDecision(0, "no work units to run, so no workers")
    if explicit is not None:
        count = min(explicit, units)
        reason = f"--workers {explicit}"
        if count < explicit:
            reason += f", lowered to the {_plural(units, 'work unit')}"
        return WorkerDecision(count, reason)
    return _decide_auto(units, history_p90_mb, cpus, available_bytes)


def _decide_auto(
    units: int, history_p90_mb: float | None, cpus: int | None, available_bytes: int | None
) -> WorkerDecision:
    """Return the ``auto`` decision for ``units`` work units (see decide_workers)."""
    app_settings.check_worker_bounds()
    low, high = app_settings.min_workers, app_settings.max_workers
    cpu_count = usable_cpus() if cpus is None else max(1, cpus)
    if history_p90_mb is not None and history_p90_mb > 0:
        per_worker_mb, source = float(history_p90_mb), "p90 worker peak in the timing history"
    else:
        per_worker_mb, source = app_settings.memory_per_worker_mb, "estimate"
    if available_bytes is None:
        available_bytes = available_memory_bytes()
    by_memory, memory_part = _by_memory(available_bytes, per_worker_mb, source)
    smallest = min(n for n in (cpu_count, by_memory, units) if n is not None)
    count = min(max(smallest, low), high, units)
    parts = [_plural(cpu_count, "usable CPU"), memory_part, _plural(units, "work unit")]
    reason = f"auto chose {count}: the smallest of {', '.join(parts)}"
    if count > smallest:
        reason += f" is {smallest}, raised to DJANGO_TEST_MIN_WORKERS={low}"
        if count < low:
            reason += f" but capped at the {_plural(units, 'work unit')}"
    elif count < smallest:
        reason += f" is {smallest}, lowered to DJANGO_TEST_MAX_WORKERS={high}"
    return WorkerDecision(
        count,
        reason,
        cpus=cpu_count,
        memory_workers=by_memory,
        available_mb=None if available_bytes is None else available_bytes / MB,
        per_worker_mb=per_worker_mb,
    )


def _by_memory(
    available_bytes: int | None, per_worker_mb: float, source: str
) -> tuple[int | None, str]:
    """Return how many workers the memory allows (None: unknown), and that part of the reason."""
    if available_bytes is None:
        logger.warning(
            "[CONCURRENT] psutil is not installed, so available memory is unknown; "
            "choosing workers by CPU count only"
        )
        return None, "memory unknown (psutil is not installed)"
    by_memory = memory_workers(available_bytes, per_worker_mb)
    low_memory = "low memory: " if available_bytes < LOW_MEMORY_BYTES else ""
    return by_memory, (
        f"{by_memory} by memory ({low_memory}{available_bytes / GB:.1f} GB available / "
        f"{per_worker_mb:.0f} MB per worker, {source})"
    )


# -- while running -----------------------------------------------------------------------------


def _measured_available_mb() -> float | None:
    available = available_memory_bytes()
    return None if available is None else available / MB


class MemoryGate:
    """Tell the pool to stop handing out units while available memory is below a floor.

    Dispatch resumes once memory is back at ``resume_mb`` (the floor unless given higher, to
    avoid flapping). A floor of 0 turns the gate off; so does memory that cannot be measured.
    The gate never pauses while no worker is busy: nothing of ours could free memory then, and
    a run must never hang.
    """

    def __init__(
        self,
        floor_mb: float | None = None,
        *,
        resume_mb: float | None = None,
        reader: Callable[[], float | None] | None = None,
    ) -> None:
        self.floor_mb = app_settings.memory_floor_mb if floor_mb is None else float(floor_mb)
        self.resume_mb = max(self.floor_mb, self.floor_mb if resume_mb is None else resume_mb)
        self._reader = reader or _measured_available_mb
        self.paused = False
        self.pauses = 0

    def available_mb(self) -> float | None:
        """Return the available memory in MB now, or None when it cannot be measured."""
        return self._reader()

    def should_pause(self, *, busy: int | None = None) -> bool:
        """Return whether to hold back new units now; ``busy`` is the count of working workers."""
        if self.floor_mb <= 0:
            return False
        available = self.available_mb()
        if available is None:
            return False
        threshold = self.resume_mb if self.paused else self.floor_mb
        low = available < threshold
        if low and busy == 0:
            logger.warning(
                "[CONCURRENT] Available memory %.0f MB is below the floor of %.0f MB, but no "
                "worker is busy; handing out a work unit anyway",
                available,
                self.floor_mb,
            )
            self.paused = False
            return False
        if low and not self.paused:
            self.pauses += 1
            logger.warning(
                "[CONCURRENT] Available memory %.0f MB is below the floor of %.0f MB; "
                "holding back new work units",
                available,
                self.floor_mb,
            )
        elif self.paused and not low:
            logger.info(
                "[CONCURRENT] Available memory %.0f MB is back above %.0f MB; "
                "handing out work units again",
                available,
                self.resume_mb,
            )
        self.paused = low
        return low
