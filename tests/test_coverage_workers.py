"""`coverage run manage.py concurrent_test` measures the worker processes, fork and spawn alike.

A tiny project is written to a temporary folder: each of its two test classes records the pid
of the process it ran in and calls a function of its own. With the `.coveragerc` the README
documents (``concurrency = multiprocessing``, ``parallel = true``), every worker writes its own
data file, named after its pid; the lines a test ran must be in the data file of the worker
that ran it, not only in the parent's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from coverage import CoverageData

from .conftest import ROOT

COVERAGERC = """\
[run]
concurrency = multiprocessing
parallel = true
sigterm = true
source = covapp
data_file = {data_file}
"""

FILES = {
    "manage.py": """\
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "covproject.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        """,
    "covproject/__init__.py": "",
    "covproject/settings.py": """\
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "coverage-fixture"
        USE_TZ = True
        INSTALLED_APPS = ["django.contrib.contenttypes", "concurrent_test_app", "covapp"]
        DATABASES = {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
        }
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        PROJECT_NAME = "reporting_coverage"
        """,
    "covapp/__init__.py": "",
    "covapp/work.py": """\
        def first():
            return "first"


        def second():
            return "second"


        def never_called():
            return "never"


        def before_the_hang():
            return "hang"
        """,
    "covapp/tests.py": """\
        import os
        from pathlib import Path

        from django.test import TestCase

        from covapp import work

        PIDS = Path(__file__).resolve().parent.parent / "pids"


        def record(name):
            PIDS.mkdir(exist_ok=True)
            (PIDS / name).write_text(str(os.getpid()))


        class FirstTests(TestCase):
            def test_first(self):
                record("first")
                self.assertEqual(work.first(), "first")


        class SecondTests(TestCase):
            def test_second(self):
                record("second")
                self.assertEqual(work.second(), "second")
        """,
}

# Only the timed-out-worker test writes it: other tests import FILES and run the whole suite.
HANG_FILES = {
    "covapp/test_hang.py": """\
        import threading

        from django.test import SimpleTestCase

        from covapp import work
        from covapp.tests import record


        class HangTests(SimpleTestCase):
            def test_hangs(self):
                record("hang")
                work.before_the_hang()
                threading.Event().wait()
        """,
}


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def write_project(
    tmp_path: Path, files: dict[str, str] = FILES
) -> tuple[Path, Path, dict[str, str]]:
    """Write the project and its .coveragerc; return the data file, the rc file and the env."""
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    data_file = tmp_path / "cov" / ".coverage"
    data_file.parent.mkdir()
    rcfile = tmp_path / ".coveragerc"
    rcfile.write_text(COVERAGERC.format(data_file=data_file))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env["PYTHONPATH"] = str(ROOT)
    return data_file, rcfile, env


def data_files_by_pid(data_file: Path) -> dict[int, Path]:
    return {
        int(path.name.split(".pid")[1].split(".")[0]): path
        for path in data_file.parent.glob(".coverage.*")
    }


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_coverage_measures_the_workers(tmp_path: Path, start_method: str) -> None:
    data_file, rcfile, env = write_project(tmp_path)
    command = [
        sys.executable, "-m", "coverage", "run", f"--rcfile={rcfile}",
        "manage.py", "concurrent_test", "covapp.tests", "--workers", "2",
        "--start-method", start_method, "--no-history", "--no-progress", "--noinput",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 2 tests" in done.stderr

    pids = {name: int((tmp_path / "pids" / name).read_text()) for name in ("first", "second")}
    data_files = data_files_by_pid(data_file)
    # The parent and at least one worker each wrote their own data; the tests ran in workers.
    assert len(data_files) >= 2, sorted(data_files)
    assert set(pids.values()) <= set(data_files), (pids, sorted(data_files))

    work = tmp_path / "covapp" / "work.py"
    for name, pid in pids.items():
        measured = CoverageData(basename=str(data_files[pid]))
        measured.read()
        lines = measured.lines(str(work)) or []
        assert line_of(work, f'return "{name}"') in lines, (name, lines)
        assert line_of(work, 'return "never"') not in lines

    combine = subprocess.run(
        [sys.executable, "-m", "coverage", "combine", f"--rcfile={rcfile}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert combine.returncode == 0, combine.stdout + combine.stderr
    combined = CoverageData(basename=str(data_file))
    combined.read()
    lines = combined.lines(str(work)) or []
    assert line_of(work, 'return "first"') in lines and line_of(work, 'return "second"') in lines
    assert line_of(work, 'return "never"') not in lines


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_timed_out_worker_saves_its_coverage(tmp_path: Path, start_method: str) -> None:
    """A hung worker gets SIGTERM before SIGKILL: with sigterm = true its data is saved."""
    data_file, rcfile, env = write_project(tmp_path, {**FILES, **HANG_FILES})
    command = [
        sys.executable, "-m", "coverage", "run", f"--rcfile={rcfile}",
        "manage.py", "concurrent_test", "covapp.test_hang", "--workers", "1",
        "--timeout-per-test", "3", "--start-method", start_method,
        "--no-history", "--no-progress", "--noinput",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "timed out after 3 s" in done.stderr, done.stderr

    pid = int((tmp_path / "pids" / "hang").read_text())
    data_files = data_files_by_pid(data_file)
    assert pid in data_files, (pid, sorted(data_files))
    measured = CoverageData(basename=str(data_files[pid]))
    measured.read()
    work = tmp_path / "covapp" / "work.py"
    assert line_of(work, 'return "hang"') in (measured.lines(str(work)) or [])
