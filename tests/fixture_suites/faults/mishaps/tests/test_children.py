"""Code under test that starts processes of its own, as in serial.

``FAULTS_ORPHANS_FILE`` turns on the last test: it starts a process and a process pool whose
work never ends, writes their pids to that file and waits forever, so that the acceptance test
can kill the parent (manage.py) with SIGKILL mid-run and see every process of the run go.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from django.test import SimpleTestCase


def square(number: int) -> int:
    return number * number


def write_pid(path: str) -> None:
    Path(path).write_text(str(os.getpid()))


def sleep_forever() -> None:
    time.sleep(3600)


def pool_pid() -> int:
    return os.getpid()


class ChildProcessTests(SimpleTestCase):
    def test_multiprocessing_process(self) -> None:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"child-{os.getpid()}.pid"
        child = multiprocessing.Process(target=write_pid, args=(str(path),))
        child.start()
        child.join(60)
        self.assertEqual(child.exitcode, 0)
        self.assertEqual(int(path.read_text()), child.pid)
        path.unlink()

    def test_process_pool_executor(self) -> None:
        with ProcessPoolExecutor(max_workers=2) as pool:
            self.assertEqual(list(pool.map(square, range(5))), [0, 1, 4, 9, 16])


class OrphanTests(SimpleTestCase):
    def test_starts_children_that_never_end(self) -> None:
        target = os.environ.get("FAULTS_ORPHANS_FILE")
        if not target:
            return
        child = multiprocessing.Process(target=sleep_forever)
        child.start()
        pool = ProcessPoolExecutor(max_workers=1)
        pool_worker = pool.submit(pool_pid).result(60)
        pool.submit(sleep_forever)
        pids = {"worker": os.getpid(), "process": child.pid, "pool": pool_worker}
        partial = Path(f"{target}.partial")
        partial.write_text(json.dumps(pids))
        partial.rename(target)
        threading.Event().wait()
