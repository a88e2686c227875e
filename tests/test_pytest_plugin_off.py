"""The pytest plugin off, overridden or misused: plain pytest-django, one line, exit status 2."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pytest_runs import PLUGIN, Probe, PytestProject, made_project, outcomes

# The fixture project's addopts turn the plugin on; these replace them.
OFF = ["-o", "addopts=-p no:cacheprovider"]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[PytestProject]:
    with made_project(tmp_path, "sqlite") as made:
        yield made


def test_the_package_registers_no_pytest_plugin_of_its_own() -> None:
    """Installing the package changes nothing in pytest: no entry point loads the plugin."""
    plugins = importlib.metadata.entry_points(group="pytest11")
    assert not [ep for ep in plugins if ep.value.startswith("concurrent_test_app")]


def test_installed_but_off_runs_exactly_as_without_the_plugin(
    project: PytestProject, tmp_path: Path
) -> None:
    runs = {}
    for name, extra in (("off", []), ("blocked", ["-p", f"no:{PLUGIN}"])):
        probe = Probe(tmp_path / f"{name}.txt")
        collected = project.run(*OFF, *extra, "--collect-only", "-q")
        done = project.run(
            *OFF, *extra, "-n", "2", "-p", "tests.pytest_probe", "-rA",
            "--junitxml", str(tmp_path / f"{name}.xml"), **probe.env(),
        )  # fmt: skip
        assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
        assert "concurrent_test" not in done.stdout + done.stderr
        databases = sorted({line.split(" ", 2)[2] for line in probe.lines() if "database" in line})
        ids = [line for line in collected.stdout.splitlines() if "::" in line]
        runs[name] = (ids, outcomes(tmp_path / f"{name}.xml"), databases)
        # The plugin's module was never imported, in either worker.
        plugin = sorted(line for line in probe.lines() if line.startswith("plugin "))
        assert plugin == ["plugin gw0 absent", "plugin gw1 absent"], probe.lines()
    assert runs["off"] == runs["blocked"]
    assert len(runs["off"][0]) == 11
    # pytest-django's own databases, no clone of a template.
    assert runs["off"][2] and not [n for n in runs["off"][2] if "concurrent" in n or "_tpl_" in n]


def test_a_conftest_that_overrides_django_db_setup_turns_the_plugin_off(
    project: PytestProject,
) -> None:
    (project.path / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='session')\n"
        "def django_db_setup(django_db_setup):\n    yield\n"
    )
    done = project.run("-q")
    lines = [line for line in done.stderr.splitlines() if "concurrent_test" in line]
    assert lines == [
        f"concurrent_test: the plugin is off: {project.path / 'conftest.py'} overrides "
        "django_db_setup."
    ], done.stderr
    assert "1 failed, 9 passed, 1 skipped" in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--shard", "3/2"], "ERROR: --shard '3/2' is not K/N with 1 <= K <= N"),
        (["--shard", "x"], "ERROR: --shard 'x' is not K/N with 1 <= K <= N"),
        (["-p", "no:xdist", "--longest-first"], "ERROR: --longest-first schedules"),
    ],
)
def test_bad_options_say_one_sentence_and_exit_2(
    project: PytestProject, args: list[str], sentence: str
) -> None:
    done = project.run(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(sentence), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "order",
    [["-p", "pytest_django.plugin", "-p", PLUGIN], ["-p", PLUGIN, "-p", "pytest_django.plugin"]],
    ids=["pytest-django first", "plugin first"],
)
def test_the_plugin_s_set_up_wins_whatever_the_load_order(
    project: PytestProject, tmp_path: Path, order: list[str]
) -> None:
    probe = Probe(tmp_path / "probe.txt")
    # pytest-django's entry point is blocked, so the -p order is the registration order.
    addopts = " ".join(["-p no:cacheprovider -p no:django", *order, "-p tests.pytest_probe"])
    done = project.run("-o", f"addopts={addopts}", "-n", "1", **probe.env())
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 failed, 9 passed, 1 skipped" in done.stdout
    assert list(probe.clones()) == ["gw0"], probe.lines()
    databases = {line.split(" ", 2)[2] for line in probe.lines() if line.startswith("database")}
    assert not [name for name in databases if name.endswith("_gw0")], databases


def test_each_worker_clones_only_the_aliases_its_tests_use(
    project: PytestProject, tmp_path: Path
) -> None:
    probe = Probe(tmp_path / "probe.txt")
    other = {"PYTEST_OTHER_DB": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    done = project.run(
        "-n", "1", "-p", "tests.pytest_probe", "-k", "Seeded", **other, **probe.env()
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The controller cannot know what the workers will collect: it readies both templates.
    for alias in ("default", "other"):
        assert f"template for alias '{alias}'" in done.stdout, done.stdout[-2000:]
    assert probe.aliases("gw0") == ["default"]
    done = project.run("-n", "1", "-p", "tests.pytest_probe", "-k", "both", **other, **probe.env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    assert probe.aliases("gw0") == ["default", "other"]
