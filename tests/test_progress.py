"""Live progress: a rich bar under a pseudo-terminal, plain lines elsewhere, unittest intact.

Each run here is a real unittest run (TextTestRunner on a real stream) whose result drives the
progress display the way the runner's pool does: one ``advance`` per finished test.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import textwrap
import threading
import time
import unittest
from pathlib import Path
from typing import Any

import pytest

from concurrent_test_app.reports.progress import (
    LiveProgress,
    NullProgress,
    PlainProgress,
    estimate_remaining,
    format_duration,
    make_progress,
)

from .conftest import ROOT
from .test_coverage_workers import FILES

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FAILING_TEST = 3


def make_suite(count: int = 20, delay: float = 0.0) -> unittest.TestSuite:
    def method(index: int) -> Any:
        def test(self: unittest.TestCase) -> None:
            time.sleep(delay)
            if index == FAILING_TEST:
                self.fail(f"number {index}")

        return test

    attrs = {f"test_{index:02d}": method(index) for index in range(count)}
    case = type("SampleCase", (unittest.TestCase,), attrs)
    return unittest.defaultTestLoader.loadTestsFromTestCase(case)


class ProgressResult(unittest.TextTestResult):
    """A TextTestResult that shows progress on its own stream, as the runner does."""

    total = 0
    verbosity = 1
    expected: float | None = None
    display: Any = None

    def startTestRun(self) -> None:
        super().startTestRun()
        type(self).display = make_progress(self.stream, self.total, self.expected, self.verbosity)

    def stopTestRun(self) -> None:
        self.display.close()
        super().stopTestRun()

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.display.advance("passed")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.display.advance("failed")


def run_unittest(
    stream: Any, verbosity: int, count: int = 20, delay: float = 0.0
) -> unittest.TestResult:
    ProgressResult.total = count
    ProgressResult.verbosity = verbosity
    ProgressResult.expected = 30.0
    runner = unittest.TextTestRunner(stream=stream, verbosity=verbosity, resultclass=ProgressResult)
    return runner.run(make_suite(count, delay))


def run_under_pty(verbosity: int) -> str:
    """Run the sample suite with a pseudo-terminal as its stream; return what the terminal got."""
    master, slave = pty.openpty()
    received = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the slave side is closed
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with os.fdopen(slave, "w", encoding="utf-8") as terminal:
        assert terminal.isatty()
        # Slow enough that the bar refreshes by itself between tests (4 times a second).
        run_unittest(terminal, verbosity, delay=0.04)
    reader.join(timeout=10)
    os.close(master)
    return received.decode("utf-8").replace("\r\n", "\n")


# -- ETA ---------------------------------------------------------------------------------------


def test_eta_from_history_before_any_test_finished() -> None:
    assert estimate_remaining(0, 100, 5.0, 60.0) == 55.0
    assert estimate_remaining(0, 100, 5.0, None) is None


def test_eta_moves_from_history_to_the_observed_rate() -> None:
    # Half done in 10 s: the rate says 10 s more, history (60 s) says 50 s more; half each.
    assert estimate_remaining(50, 100, 10.0, 60.0) == pytest.approx(30.0)
    assert estimate_remaining(50, 100, 10.0, None) == pytest.approx(10.0)
    # Slower than history: the rate alone.
    assert estimate_remaining(10, 100, 80.0, 60.0) == pytest.approx(720.0)
    assert estimate_remaining(100, 100, 80.0, 60.0) == 0.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (0.4, "0s"), (45, "45s"), (185, "3m05s"), (3725, "1h02m")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


# -- not a terminal ----------------------------------------------------------------------------


@pytest.mark.parametrize("verbosity", [1, 2])
def test_non_terminal_run_has_no_control_characters(verbosity: int) -> None:
    stream = io.StringIO()
    result = run_unittest(stream, verbosity)
    assert isinstance(ProgressResult.display, PlainProgress)
    output = stream.getvalue()
    assert not [ch for ch in output if ord(ch) < 32 and ch != "\n" or ord(ch) == 127]
    lines = output.splitlines()
    progress = [line for line in lines if line.startswith("[CONCURRENT] Progress: ")]
    # Every tenth of 20 tests: 2, 4, ..., 18, then the closing line at 20.
    assert [line.split()[2] for line in progress] == [f"{n}/20" for n in range(2, 21, 2)]
    assert progress[0].startswith("[CONCURRENT] Progress: 2/20 tests (10%), failures=0, ")
    assert "eta=" in progress[0]
    assert progress[-1].startswith("[CONCURRENT] Progress: 20/20 tests (100%), failures=1, ")
    assert "eta=" not in progress[-1]
    # unittest's own output is intact around the progress lines.
    assert result.testsRun == 20 and len(result.failures) == 1
    assert any(line.startswith("Ran 20 tests in ") for line in lines)
    assert "FAILED (failures=1)" in lines
    if verbosity == 1:
        dots = "".join(line for line in lines if re.fullmatch(r"[.F]+", line))
        assert dots == "...F" + "." * 16
    else:
        assert sum(line.endswith(" ... ok") for line in lines) == 19
        assert sum(line.endswith(" ... FAIL") for line in lines) == 1


def test_plain_lines_also_come_every_n_seconds() -> None:
    now = [0.0]
    stream = io.StringIO()
    display = PlainProgress(stream, 1000, None, clock=lambda: now[0])
    assert display.every_seconds == 30.0
    display.advance("passed")
    now[0] = 29.0
    display.advance("error")
    assert stream.getvalue() == ""
    now[0] = 31.0
    display.advance("passed")
    assert stream.getvalue() == (
        "[CONCURRENT] Progress: 3/1000 tests (0%), failures=1, elapsed=31s, eta=2h51m\n"
    )
    now[0] = 40.0
    display.advance("passed")
    display.close()
    display.close()
    assert stream.getvalue().splitlines()[1:] == [
        "[CONCURRENT] Progress: 4/1000 tests (0%), failures=1, elapsed=40s"
    ]


def test_plain_lines_start_on_a_fresh_line_after_dots() -> None:
    stream = io.StringIO()
    decorated = unittest.runner._WritelnDecorator(stream)  # type: ignore[attr-defined]
    display = make_progress(decorated, 2, None, 1)
    decorated.write(".")
    display.advance("passed")
    decorated.write(".")
    display.log("worker 2 restarted")
    display.advance("passed")
    display.close()
    decorated.writeln()
    assert stream.getvalue() == (
        ".\n[CONCURRENT] Progress: 1/2 tests (50%), failures=0, elapsed=0s, eta=0s\n"
        ".\nworker 2 restarted\n"
        "[CONCURRENT] Progress: 2/2 tests (100%), failures=0, elapsed=0s\n\n"
    )
    # The display gave unittest's stream back.
    assert decorated.stream is stream


def test_verbosity_zero_shows_nothing() -> None:
    stream = io.StringIO()
    result = run_unittest(stream, 0)
    assert isinstance(ProgressResult.display, NullProgress)
    assert result.testsRun == 20
    assert "[CONCURRENT]" not in stream.getvalue()


# -- a terminal --------------------------------------------------------------------------------


def test_terminal_shows_a_transient_bar_and_keeps_unittest_dots_whole() -> None:
    screen = run_under_pty(1)
    assert isinstance(ProgressResult.display, LiveProgress)
    # The bar was drawn with cursor control: done/total, failures so far and an ETA.
    assert "\x1b[" in screen
    plain = ANSI.sub("", screen)
    assert "0/20" in plain and "20/20" in plain
    assert "1 failed" in plain and "ETA " in plain
    # Then it was erased, and unittest's transcript follows whole, with no control code in it.
    tail = screen[screen.rindex("\x1b[2K") + len("\x1b[2K") :]
    assert "\x1b" not in tail
    assert tail.startswith("...F" + "." * 16 + "\n")
    assert "\nRan 20 tests in " in tail and tail.rstrip().endswith("FAILED (failures=1)")
    assert tail.count("FAIL: test_03") == 1


def test_terminal_prints_verbose_lines_above_the_bar() -> None:
    screen = run_under_pty(2)
    assert isinstance(ProgressResult.display, LiveProgress)
    for index in range(20):
        verdict = "FAIL" if index == FAILING_TEST else "ok"
        # Each of unittest's lines reaches the terminal in one piece, ended by a newline.
        line = re.search(rf"test_{index:02d} \(.*?\n", screen)
        assert line is not None, index
        assert "\x1b" not in line.group()
        assert line.group().endswith(f" ... {verdict}\n")
    tail = screen[screen.rindex("\x1b[2K") + len("\x1b[2K") :]
    assert "\x1b" not in tail
    assert "\nRan 20 tests in " in tail


# -- the real command --------------------------------------------------------------------------


def write_project(root: Path) -> dict[str, str]:
    """Write the two-test fixture project of the coverage test; return the child's environment."""
    for name, text in FILES.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", COLUMNS="120")
    return env


COMMAND = ["manage.py", "concurrent_test", "--workers", "2", "--no-history", "--noinput"]


def test_the_command_draws_the_bar_on_a_terminal(tmp_path: Path) -> None:
    env = write_project(tmp_path)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, *COMMAND], cwd=tmp_path, env=env, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    received = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        received.extend(chunk)
    os.close(master)
    assert process.wait(timeout=300) == 0, received.decode(errors="replace")
    screen = received.decode("utf-8").replace("\r\n", "\n")
    plain = ANSI.sub("", screen)
    assert "Tests" in plain and "0/2" in plain and "2/2" in plain and "0 failed" in plain
    # The bar is gone before unittest's closing lines, which arrive whole.
    tail = screen[screen.rindex("\x1b[2K") + len("\x1b[2K") :]
    assert tail.startswith("..\n")
    assert "\nRan 2 tests in " in tail and "\nOK\n" in tail
    assert "\x1b" not in tail.split("\nOK\n")[0]


def test_the_command_writes_plain_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    env = write_project(tmp_path)
    done = subprocess.run(
        [sys.executable, *COMMAND], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert not [ch for ch in output if ord(ch) < 32 and ch != "\n" or ord(ch) == 127]
    assert "[CONCURRENT] Progress: 1/2 tests (50%), failures=0, " in done.stderr
    assert "[CONCURRENT] Progress: 2/2 tests (100%), failures=0, " in done.stderr
    assert "\nRan 2 tests in " in done.stderr and done.stderr.rstrip().endswith("OK")
