"""Who owns a clone: the host, process id and process start time of the run that made it.

Every clone records its owner in its bookkeeping table (the ``owner_*`` keys, see
:meth:`Owner.to_meta`). A run and ``build_test_template --prune`` drop the clones whose owner
ran on this host and is gone: its process id no longer exists, or now belongs to a process that
started at another time (the id was reused). An owner on another host cannot be checked from
here, so its clones are only listed, never dropped.

"This host" means the same host name *and* the same process-id namespace: two containers that
share a host name (``--network host``) do not see each other's processes, so neither may judge
the other's clones dead.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from functools import lru_cache

import psutil

logger = logging.getLogger(__name__)

# Two readings of one process's start time differ by float rounding only; a reused process id
# belongs to a process that started at least this much later.
START_TIME_TOLERANCE = 0.05

# The bookkeeping keys of a clone's owner, and of a clone kept clean for the next --keepdb run.
OWNER_KEYS = ("owner_host", "owner_namespace", "owner_pid", "owner_started", "owner_session")
KEPT_KEY = "kept"


@lru_cache(maxsize=1)
def _namespace() -> str:
    try:  # Linux: "pid:[4026531836]"; the same for every process of one container
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def process_started(pid: int) -> float | None:
    """Return when process ``pid`` started (epoch seconds), or None when there is none."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # dead, not yet reaped by its parent
            return None
        return float(process.create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error as exc:  # cannot be read (permissions): treat it as alive
        logger.debug("Cannot read the start time of process %s: %s", pid, exc)
        return float("nan")


@dataclass(frozen=True)
class Owner:
    """One process on one host, told apart from a later process with the same id."""

    host: str
    namespace: str
    pid: int
    started: float
    session: str = ""  # the server session holding its template (see DatabaseCloner.hold)

    @classmethod
    def current(cls, session: str = "") -> Owner:
        """Return the owner that this process is."""
        started = process_started(os.getpid())
        return cls(socket.gethostname(), _namespace(), os.getpid(), started or 0.0, session)

    def to_meta(self) -> dict[str, str]:
        """Return the bookkeeping rows that record this owner."""
        return {
            "owner_host": self.host,
            "owner_namespace": self.namespace,
            "owner_pid": str(self.pid),
            "owner_started": f"{self.started:.3f}",
            "owner_session": self.session,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> Owner | None:
        """Return the owner that bookkeeping rows record, or None when they record none."""
        try:
            return cls(
                meta["owner_host"],
                meta.get("owner_namespace", ""),
                int(meta["owner_pid"]),
                float(meta["owner_started"]),
                meta.get("owner_session", ""),
            )
        except (KeyError, ValueError):
            return None

    @property
    def local(self) -> bool:
        """Return whether this owner's process could be seen from here."""
        return self.host == socket.gethostname() and self.namespace == _namespace()

    def alive(self) -> bool:
        """Return whether the owner still runs (always True for an owner that is not local)."""
        if not self.local:
            return True
        started = process_started(self.pid)
        if started is None:
            return False
        # NaN (unreadable) compares unequal to everything: counted as alive, never dropped.
        return not abs(started - self.started) > START_TIME_TOLERANCE

    def describe(self) -> str:
        """Return "pid 123 on host ci-4", as messages name an owner."""
        return f"pid {self.pid} on host {self.host}"
