"""Smoke tests of ``make bench``: its generators give runnable projects, and one quick round runs.

No timing is asserted here: the figures belong to ``bench/results/``, measured by a full run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bench import suites
from tests.conftest import ROOT, run_manage

RUNNERS = {
    "django_serial",
    "django_parallel",
    "django_parallel_keepdb",
    "concurrent_cold",
    "concurrent_warm",
}


def sqlite_env(project: suites.SuiteProject) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": project.settings_module,
        "DATABASE_URL": f"sqlite:///{project.root / 'smoke.sqlite3'}",
    }


def test_skewed_plan_has_its_shape() -> None:
    durations = suites.skewed_durations()
    assert 38 <= len(durations) <= 42
    assert durations[-1] == max(durations)  # the longest class is discovered last
    long = [d for d in durations if d >= 5]
    assert 2 <= len(long) <= 4 and max(long) <= 8
    assert sum(1 for d in durations if d < 1) >= len(durations) - len(long)


def test_many_small_generator_writes_2000_tests_in_100_classes(tmp_path: Path) -> None:
    project = suites.generate_many_small(tmp_path)
    sources = [p.read_text() for p in (project.root / "benchkit" / "tests").glob("test_*.py")]
    assert sum(len(re.findall(r"^class \w+\(TestCase\)", s, re.M)) for s in sources) == 100
    assert sum(s.count("    def test_") for s in sources) == 2000
    assert project.shape.tests == 2000 and project.shape.units == 100


def test_generated_projects_run_with_djangos_runner(tmp_path: Path) -> None:
    # A low rate keeps the CPU work tiny: this checks that the project runs, not how long.
    skewed = suites.generate_skewed(tmp_path, quick=True, rate=100_000)
    small = suites.generate_many_small(tmp_path, quick=True)
    for project in (skewed, small):
        completed = run_manage(project.root, "test", "--noinput", env=sqlite_env(project))
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert f"Ran {project.shape.tests} tests" in completed.stderr
        assert "\nOK\n" in completed.stderr


def test_quick_round_on_sqlite_writes_the_results(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key != "DATABASE_URL"
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--vendors",
            "sqlite",
            "--suites",
            "skewed,many_small",
            "--results-dir",
            str(tmp_path / "results"),
            "--generated-dir",
            str(tmp_path / "generated"),
            "--no-pytest",  # its own smoke test below
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr

    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert results["settings"]["quick"] is True
    assert results["machine"]["nproc"] == os.cpu_count()
    groups = {(g["suite"], g["vendor"]): g for g in results["groups"]}
    assert set(groups) == {("skewed_quick", "sqlite"), ("many_small_quick", "sqlite")}
    for group in groups.values():
        assert set(group["runners"]) == RUNNERS
        assert all(len(row["walls"]) == 1 for row in group["runners"].values())
        assert group["runners"]["django_parallel"]["ratio"] == 1.0
        assert group["ideal_seconds"] is not None  # from concurrent_test's own reports
    assert {m["tests_run"] for m in results["measurements"] if m["suite"] == "skewed_quick"} == {24}
    cold = [m for m in results["measurements"] if m["runner"] == "concurrent_cold"]
    warm = [m for m in results["measurements"] if m["runner"] == "concurrent_warm"]
    assert cold and not any(m["template_reused"] for m in cold)
    assert warm and all(m["template_reused"] for m in warm)
    assert all(m["clone_seconds"] for m in cold + warm)

    markdown = (tmp_path / "results" / "latest.md").read_text()
    assert "nproc" in markdown and "| SQLite | concurrent_test warm |" in markdown
    assert "## Targets (issues 8 and 14)" in markdown


def test_one_big_suite_puts_60_percent_of_the_work_in_one_class_discovered_last(
    tmp_path: Path,
) -> None:
    from bench import one_big

    project = one_big.generate_one_big(tmp_path, quick=True, rate=100_000)
    planned = project.shape.planned_seconds
    assert planned[-1] == max(planned)
    assert planned[-1] / sum(planned) == 0.6
    tests_dir = project.root / "benchkit" / "tests"
    assert sorted(p.name for p in tests_dir.glob("test_*.py"))[-1] == "test_z_big.py"
    completed = run_manage(project.root, "test", "--noinput", env=sqlite_env(project))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"Ran {project.shape.tests} tests" in completed.stderr


def test_one_big_targets_are_the_ratio_and_the_efficiency() -> None:
    from bench.__main__ import targets

    group = {
        "suite": "one_big",
        "ideal_seconds": 9.7,
        "runners": {"concurrent_warm": {"ratio": 0.68, "efficiency": 0.95, "median": 10.2}},
    }
    judged = {target["target"]: target["met"] for target in targets(group)}
    assert judged == {
        "one_big warm: efficiency (ideal makespan / whole command wall)": False,
        "one_big warm: wall / Django --parallel N": True,
    }


def test_quick_pytest_section_on_sqlite(tmp_path: Path) -> None:
    """The pytest section runs pytest -n 2 with and without the plugin and reports both targets."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key != "DATABASE_URL"
    }
    completed = subprocess.run(
        [
            sys.executable, "-m", "bench", "--quick", "--vendors", "sqlite",
            "--suites", "skewed,heavy_schema", "--runners", "django_parallel",
            "--results-dir", str(tmp_path / "results"),
            "--generated-dir", str(tmp_path / "generated"),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    groups = {(g["suite"], g["vendor"]): g for g in results["pytest"]}
    assert set(groups) == {("skewed_quick", "sqlite"), ("heavy_schema_quick", "sqlite")}
    for group in groups.values():
        assert set(group["runners"]) == {
            "pytest_plain",
            "pytest_reuse",
            "plugin_cold",
            "plugin_warm",
        }
        assert group["target"]["measured"] is not None
        assert group["runners"]["plugin_warm"]["template_median"] is not None
    markdown = (tmp_path / "results" / "latest.md").read_text()
    assert "## pytest: pytest-django + pytest-xdist" in markdown


def test_history_size_bench_prints_a_row_per_history_size() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    completed = subprocess.run(
        [
            sys.executable,
            "bench/history_size.py",
            "--runs",
            "1,3",
            "--tests",
            "40",
            "--repeat",
            "1",
        ],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = [line for line in completed.stdout.splitlines() if re.match(r"\| \d", line)]
    assert [row.split(" | ")[:2] for row in rows] == [["| 1", "40"], ["| 3", "120"]]
