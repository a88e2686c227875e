"""Own every process of a run: each worker leads a process group that ends with it.

Workers are not daemonic, so code under test may start processes of its own (a
``multiprocessing.Process``, a ``ProcessPoolExecutor``), as it may in serial. Ending a worker
therefore means ending its process group, and three things see to it that nothing outlives
the run:

- the parent ends a worker by killing its whole process group (:func:`kill_group`);
- on Linux the kernel kills a worker the moment its parent dies (``PR_SET_PDEATHSIG``), which
  holds even while the worker is deep in a test and never reads its pipe;
- a guardian, a small process each worker forks before any test runs, waits for the worker to
  be gone, for whatever reason, and then kills what is left of its process group: the
  processes that tests started, which the worker's own death leaves running.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

import psutil

logger = logging.getLogger(__name__)

# prctl(2) option: the signal this process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
# How often a guardian looks whether its worker is still there. Whatever the tests started is
# gone at most this long after the worker.
GUARD_POLL_SECONDS = 0.2
# The attribute that marks the parent's own signal handlers; a forked worker inherits them and
# must not run them (see reset_inherited_handler).
PARENT_HANDLER = "concurrent_test_parent_handler"

# The buffer a worker's events pipe gets: about 2,000 tests' events, so that a worker writes
# them without waiting for its parent to read (Linux allows up to 1 MiB without privileges).
PIPE_BYTES = 1024 * 1024

F = TypeVar("F")


def lead_process_group() -> None:
    """Make this process the leader of a new process group, which its children join."""
    try:
        os.setpgid(0, 0)
    except OSError as exc:  # already a group or session leader: its group is its own anyway
        logger.debug("Could not start a process group: %s", exc)


def adopt_process_group(pid: int) -> None:
    """Put child ``pid`` in a group of its own from the parent's side too.

    Done from both sides, as shells do, so the group exists before either side goes on; a
    child that has already exec'd (spawn) or is not ours (forkserver) does it alone.
    """
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this process when its parent dies; exit now if it already did.

    ``parent_pid`` is the parent this process was started by, or 0 when it is not a direct
    child (under forkserver the server is the parent, and it exits when the run's parent does).
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError) as exc:
            logger.debug("PR_SET_PDEATHSIG is not available: %s", exc)
    if parent_pid and os.getppid() != parent_pid:
        # The parent died before the request above was in place: nobody will collect us.
        os._exit(1)


def start_guardian() -> int | None:
    """Fork this process's guardian and return its pid (see the module's docstring).

    Only a process group leader gets one: a guardian kills its whole group in the end.
    """
    watched = os.getpid()
    if os.getpgrp() != watched:
        return None
    pid = os.fork()
    if pid:
        return pid
    # The guardian. It runs none of the worker's code and keeps none of its pipes open, so
    # that the parent sees the worker's pipe and sentinel close when the worker ends.
    try:
        os.closerange(3, _max_fd())
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while os.getppid() == watched:
            time.sleep(GUARD_POLL_SECONDS)
        os.killpg(watched, signal.SIGKILL)
    finally:
        os._exit(0)


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 1024


def widen_pipe(fd: int) -> None:
    """Give the pipe of ``fd`` a buffer of PIPE_BYTES where the system allows (Linux)."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        # Not Linux, or above /proc/sys/fs/pipe-max-size: the default buffer works, the
        # worker rings its parent often enough for it (worker.events.RING_BYTES).
        pass


def has_exited(pid: int) -> bool:
    """Return whether process ``pid`` has ended, without reaping it (a zombie has ended)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def kill_group(pid: int) -> None:
    """Kill worker ``pid`` and every process in the group it leads.

    Call it before the worker is reaped: until then the worker's pid (and its group's id)
    cannot belong to anybody else.
    """
    for kill in (os.killpg, os.kill):
        # The worker itself too: it may not lead its group yet, or a test may have moved it.
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_children(spare: int | None) -> None:
    """Kill what this process started and left running (but the guardian, ``spare``).

    A worker that is told to stop would otherwise wait for them: multiprocessing joins every
    child that is not daemonic before the process may exit.
    """
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        if child.pid == spare:
            continue
        try:
            child.kill()
        except psutil.Error:
            pass


def parent_handler(function: F) -> F:
    """Mark ``function`` as a signal handler of the parent, which a forked worker resets."""
    setattr(function, PARENT_HANDLER, True)
    return function


# What the commands say when Ctrl-C ends them before any worker started.
INTERRUPTED = "Interrupted during set-up: a template being built was dropped; nothing else changed."

Handler = Callable[[int, FrameType | None], object]


@parent_handler
def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def interruptible(*, sigint: bool = True) -> Iterator[None]:
    """Let SIGTERM (and SIGINT) raise for a while, so that clean-up code still runs.

    By default SIGTERM ends a process at once, and the SIGINT handler Django's runner installs
    (unittest's) only asks running tests to stop: either way a template half built would stay
    behind. Here SIGTERM raises ``SystemExit(143)`` and SIGINT ``KeyboardInterrupt``. The pool
    installs its own handlers while workers run, and restores these after.
    """
    handlers: dict[int, Handler] = {signal.SIGTERM: _raise_exit}
    if sigint:
        handlers[signal.SIGINT] = signal.default_int_handler
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def reset_inherited_handler(signum: int) -> None:
    """Give ``signum`` its default action if its handler is one the parent installed."""
    if getattr(signal.getsignal(signum), PARENT_HANDLER, False):
        signal.signal(signum, signal.SIG_DFL)
