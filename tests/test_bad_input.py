"""Bad input to ``concurrent_test`` (issues 3 and 6): exit status 2, one sentence, no traceback.

Every case runs the real command in a subprocess on the faults fixture project. The error is
the last line of stderr: argparse prints its usage above it, and Django prints a CommandError
(the app's ConfigurationError) as ``ConfigurationError: <message>`` alone. The message must
name the flag, setting or environment variable the bad value came from, be one sentence, and
come with no traceback. Broken settings come from the fixture's settings variants, selected
with ``FAULTS_VARIANT`` (see ``faults_project/settings.py``).

A label that does not import is not bad input: Django makes an import-error test of it, and
the run exits 1 (tested at the end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixture_suites.faults.harness import Project, error_line, make_project

# A label with a few quick SimpleTestCase tests: a case that is wrongly accepted runs fast.
LABEL = "mishaps.tests.test_ordinary.PlainA"
# The engine and server cases need a suite that uses the database: the runner checks only the
# aliases the suite needs, as Django sets up only those.
DB_LABEL = "mishaps.tests.test_ordinary.WritingA"
ARGPARSE_PREFIX = "manage.py concurrent_test: error: "
COMMAND_ERROR = re.compile(r"^(?:[A-Za-z]+Error): ")
# A sentence ends with one of these followed by a space or the end of the message.
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@dataclass(frozen=True)
class Case:
    """One bad input: the extra arguments, environment, and the name the message must hold."""

    names: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # Files the case needs in the scratch folder: name -> content (None: a folder).
    files: dict[str, str | None] = field(default_factory=dict)
    label: str = LABEL


CASES: dict[str, Case] = {
    # --workers and its Django synonym --parallel
    "workers zero": Case("--workers", ("--workers", "0")),
    "workers negative": Case("--workers", ("--workers", "-3")),
    "workers not a number": Case("--workers", ("--workers", "abc")),
    "parallel zero": Case("--parallel", ("--parallel", "0")),
    "parallel negative": Case("--parallel", ("--parallel", "-3")),
    "parallel not a number": Case("--parallel", ("--parallel", "abc")),
    # --shard K/N
    "shard zero": Case("--shard", ("--shard", "0/2")),
    "shard past its count": Case("--shard", ("--shard", "3/2")),
    "shard malformed": Case("--shard", ("--shard", "x")),
    # timeouts, flags and environment
    "timeout per test negative": Case("--timeout-per-test", ("--timeout-per-test", "-1")),
    "timeout per test not a number": Case("--timeout-per-test", ("--timeout-per-test", "abc")),
    "timeout global nan": Case("--timeout-global", ("--timeout-global", "nan")),
    "env timeout per test not a number": Case(
        "DJANGO_TEST_TIMEOUT_PER_TEST", env={"DJANGO_TEST_TIMEOUT_PER_TEST": "abc"}
    ),
    "env main timeout negative": Case("DJANGO_TEST_TIMEOUT", env={"DJANGO_TEST_TIMEOUT": "-5"}),
    # worker bounds and memory
    "env min workers above max": Case(
        "DJANGO_TEST_MIN_WORKERS",
        env={"DJANGO_TEST_MIN_WORKERS": "5", "DJANGO_TEST_MAX_WORKERS": "2"},
    ),
    "env max workers zero": Case("DJANGO_TEST_MAX_WORKERS", env={"DJANGO_TEST_MAX_WORKERS": "0"}),
    "env worker memory not a number": Case(
        "DJANGO_TEST_WORKER_MAX_MEMORY_MB", env={"DJANGO_TEST_WORKER_MAX_MEMORY_MB": "lots"}
    ),
    "max worker memory negative": Case("--max-worker-memory", ("--max-worker-memory", "-1")),
    "max worker memory not a number": Case("--max-worker-memory", ("--max-worker-memory", "abc")),
    "max units per worker zero": Case("--max-units-per-worker", ("--max-units-per-worker", "0")),
    # timings file, by flag and by setting
    "timings file not json": Case(
        "--timings-file", ("--timings-file", "{scratch}/broken.json"), files={"broken.json": "{no"}
    ),
    "timings file not a timings file": Case(
        "--timings-file", ("--timings-file", "{scratch}/list.json"), files={"list.json": "[1, 2]"}
    ),
    "timings file unreadable": Case(
        "--timings-file", ("--timings-file", "{scratch}/folder.json"), files={"folder.json": None}
    ),
    "timings file setting not json": Case(
        "TEST_TIMINGS_FILE",
        env={"FAULTS_TIMINGS_FILE": "{scratch}/broken.json"},
        files={"broken.json": "{no"},
    ),
    # other flags
    "unknown scheduler": Case("--scheduler", ("--scheduler", "fastest")),
    "pdb with two workers": Case("--pdb", ("--pdb", "--workers", "2")),
    # settings
    "project name not a string": Case(
        "PROJECT_NAME", env={"FAULTS_VARIANT": "project_name_not_a_string"}
    ),
    "logging not a dict": Case(
        "CONCURRENT_TEST_LOGGING", env={"FAULTS_VARIANT": "logging_not_a_dict"}
    ),
    "logging unknown format": Case(
        "CONCURRENT_TEST_LOGGING", env={"FAULTS_VARIANT": "logging_unknown_format"}
    ),
    "timings file setting not a path": Case(
        "TEST_TIMINGS_FILE", env={"FAULTS_VARIANT": "timings_file_not_a_path"}
    ),
    "templates to keep negative": Case(
        "CONCURRENT_TEST_TEMPLATES_TO_KEEP", env={"FAULTS_VARIANT": "templates_to_keep_negative"}
    ),
    "ready clones not a bool": Case(
        "CONCURRENT_TEST_READY_CLONES", env={"FAULTS_VARIANT": "ready_clones_not_a_bool"}
    ),
    "history database unknown": Case(
        "CONCURRENT_TEST_HISTORY_DATABASE", env={"FAULTS_VARIANT": "history_database_unknown"}
    ),
    # database engines and servers
    "engine of an unsupported vendor": Case(
        "DATABASES['default']", env={"FAULTS_VARIANT": "unsupported_vendor"}, label=DB_LABEL
    ),
    # An ENGINE whose module cannot be imported (Oracle without its driver, a third-party backend
    # not installed) is not here: Django itself fails inside django.setup(), while the first
    # model class of any installed app is created, before any of this app's code runs.
    "postgresql server unreachable": Case(
        "DATABASES",
        env={"DATABASE_URL": "postgres://postgres@127.0.0.1:1/faults_unreachable"},
        label=DB_LABEL,
    ),
    "mysql server unreachable": Case(
        "DATABASES",
        env={"DATABASE_URL": "mysql://root@127.0.0.1:1/faults_unreachable"},
        label=DB_LABEL,
    ),
}


def _fill(text: str, scratch: Path) -> str:
    return text.replace("{scratch}", str(scratch))


def message_of(line: str) -> tuple[str, bool]:
    """Return the message in an error line, and whether argparse (not the command) printed it."""
    if line.startswith(ARGPARSE_PREFIX):
        return line[len(ARGPARSE_PREFIX) :], True
    return COMMAND_ERROR.sub("", line, count=1), False


@pytest.fixture
def scratch_project(tmp_path: Path) -> Project:
    return make_project("sqlite", tmp_path)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_sentence(
    name: str, scratch_project: Project, tmp_path: Path
) -> None:
    case = CASES[name]
    for file_name, content in case.files.items():
        if content is None:
            (tmp_path / file_name).mkdir()
        else:
            (tmp_path / file_name).write_text(content)
    args = tuple(_fill(arg, tmp_path) for arg in case.args)
    env = {key: _fill(value, tmp_path) for key, value in case.env.items()}

    run = scratch_project.manage(
        "concurrent_test", case.label, "--noinput", "--no-progress", *args, env=env, timeout=120
    )

    assert run.returncode == 2, run.describe()
    assert "Traceback" not in run.stderr + run.stdout, run.describe()
    line = error_line(run.stderr)
    message, from_argparse = message_of(line)
    assert case.names in message, f"the error does not name {case.names}\n{run.describe()}"
    assert len(SENTENCE_END.findall(message)) <= 1, f"more than one sentence: {message!r}"
    stderr_lines = [text for text in run.stderr.splitlines() if text.strip()]
    if from_argparse:
        # Above the error, only argparse's usage (its first line and indented continuations).
        usage = stderr_lines[:-1]
        assert usage and usage[0].startswith("usage: "), run.describe()
        assert all(text.startswith((" ", "usage: ")) for text in usage), run.describe()
    else:
        assert stderr_lines == [line], f"stderr holds more than the error\n{run.describe()}"
    # Refused before anything was created: no test database, clone or temporary file.
    assert scratch_project.leftovers() == [], run.describe()
    assert scratch_project.templates() == [], run.describe()


@pytest.mark.parametrize(
    ("label", "failed_id", "cause"),
    [
        (
            "mishaps.tests.test_nothing_here",
            "unittest.loader._FailedTest.test_nothing_here",
            "No module named 'mishaps.tests.test_nothing_here'",
        ),
        (
            "mishaps.broken",
            "unittest.loader._FailedTest.broken",
            "No module named 'mishaps_no_such_package'",
        ),
    ],
)
def test_label_that_does_not_import_is_an_import_error_test(
    label: str, failed_id: str, cause: str, scratch_project: Project, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    run = scratch_project.manage(
        "concurrent_test",
        label,
        LABEL,
        "--noinput",
        "--workers",
        "2",
        "--no-progress",
        "--json-report",
        str(report),
    )

    assert run.returncode == 1, run.describe()
    outcomes = run.outcomes
    assert outcomes.pop(failed_id) == "error", run.describe()
    assert cause in run.messages[failed_id], run.messages[failed_id]
    assert sorted(outcomes.values()) == ["passed"] * 5, outcomes
    assert "Ran 6 tests in " in run.stderr and "FAILED (errors=1)" in run.stderr, run.describe()
