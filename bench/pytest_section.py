"""``make bench``'s pytest section: pytest-xdist with and without the concurrent_test plugin.

On the skewed and heavy-schema suites, side by side in each round (order rotated), with
pytest-django and ``-n N``:

- ``pytest_plain``: ``pytest -n N --dist load``, each worker migrating its own ``_gwN`` database;
- ``pytest_reuse``: ``pytest -n N --reuse-db``, those databases kept from the warm-up;
- ``plugin_cold``: ``-p concurrent_test_app.pytest_plugin --longest-first`` after the
  templates were dropped (untimed): the controller builds the template;
- ``plugin_warm``: the same with the template and the history in place.

Database set-up is the slowest worker's ``django_db_setup`` (:mod:`bench.pytest_timing`);
for the plugin the controller's template step is shown beside it.
"""

from __future__ import annotations

import logging
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import REPO_ROOT, BenchError
from .runners import Vendor, environment, manage
from .suites import SuiteProject

logger = logging.getLogger(__name__)

PLUGIN = "concurrent_test_app.pytest_plugin"
SUITES = ("skewed", "heavy_schema")
TARGET_SKEWED = 0.90
TARGET_HEAVY_SETUP = 0.10
_PASSED = re.compile(r"(\d+) passed")
_TEMPLATE = re.compile(r"concurrent_test: \w+ template for alias '\w+' in ([0-9.]+)s")


@dataclass(frozen=True)
class PytestRunner:
    key: str
    label: str
    args: tuple[str, ...]
    cold: bool = False

    def arguments(self, workers: int) -> list[str]:
        return ["-n", str(workers), *self.args]


RUNNERS = (
    PytestRunner("pytest_plain", "pytest -n N", ("--dist", "load")),
    PytestRunner("pytest_reuse", "pytest -n N --reuse-db", ("--dist", "load", "--reuse-db")),
    PytestRunner("plugin_cold", "plugin cold", ("-p", PLUGIN, "--longest-first"), cold=True),
    PytestRunner("plugin_warm", "plugin warm", ("-p", PLUGIN, "--longest-first")),
)
BASELINE = "pytest_plain"

PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider -p bench.pytest_timing -q
"""


@dataclass
class PytestMeasurement:
    suite: str
    vendor: str
    runner: str
    round: int
    wall_seconds: float
    passed: int
    db_setup_seconds: float | None
    template_seconds: float | None


def _pytest(
    project: SuiteProject, vendor: Vendor, args: list[str], setup_file: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = environment(project, vendor, None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(project.root)])
    env["BENCH_PYTEST_SETUP_FILE"] = str(setup_file)
    setup_file.unlink(missing_ok=True)
    # The generated projects' conftest.py ignores every folder (so that the repository's own
    # pytest never collects them); test files named on the command line are still collected.
    files = sorted(str(p.relative_to(project.root)) for p in project.root.glob("*/tests/test_*.py"))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, *files],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise BenchError(f"`pytest {' '.join(args)}` in {project.root} failed:\n{tail}")
    return done, wall


def measure(
    project: SuiteProject,
    vendor: Vendor,
    runner: PytestRunner,
    *,
    workers: int,
    scratch: Path,
    round_number: int,
) -> PytestMeasurement:
    """Run ``runner`` once and return its wall, tests passed and database set-up."""
    (project.root / "pytest.ini").write_text(PYTEST_INI)
    if runner.cold:
        manage(project, vendor, "bench_reset", "--templates")
    setup_file = scratch / "pytest-setup.txt"
    done, wall = _pytest(project, vendor, runner.arguments(workers), setup_file)
    passed = _PASSED.search(done.stdout)
    if not passed or int(passed.group(1)) != project.shape.tests:
        raise BenchError(f"{runner.key} on {project.name}/{vendor.name}: {done.stdout[-500:]}")
    setups = [float(line.split()[1]) for line in setup_file.read_text().splitlines()]
    template = _TEMPLATE.search(done.stdout + done.stderr)
    return PytestMeasurement(
        project.name,
        vendor.name,
        runner.key,
        round_number,
        wall,
        int(passed.group(1)),
        max(setups) if setups else None,
        float(template.group(1)) if template else None,
    )


def prepare(project: SuiteProject, vendor: Vendor, *, workers: int, scratch: Path) -> None:
    """Warm up, untimed: the plugin's template and history, and --reuse-db's databases."""
    (project.root / "pytest.ini").write_text(PYTEST_INI)
    setup_file = scratch / "pytest-setup.txt"
    scratch.mkdir(parents=True, exist_ok=True)
    for key in ("plugin_warm", "pytest_reuse"):
        runner = next(r for r in RUNNERS if r.key == key)
        _pytest(project, vendor, runner.arguments(workers), setup_file)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def summarize(measurements: list[PytestMeasurement]) -> list[dict[str, Any]]:
    """Return per suite and vendor the medians, the ratios and the two targets."""
    groups: dict[tuple[str, str], list[PytestMeasurement]] = {}
    for m in measurements:
        groups.setdefault((m.suite, m.vendor), []).append(m)
    result = []
    for (suite, vendor), runs in groups.items():
        rows = {}
        for runner in RUNNERS:
            mine = [m for m in runs if m.runner == runner.key]
            rows[runner.key] = {
                "walls": [round(m.wall_seconds, 2) for m in mine],
                "median": _median([m.wall_seconds for m in mine]),
                "db_setup_median": _median([m.db_setup_seconds for m in mine]),
                "template_median": _median([m.template_seconds for m in mine]),
            }
        base = rows[BASELINE]
        warm = rows["plugin_warm"]
        ratio = warm["median"] / base["median"] if base["median"] and warm["median"] else None
        setup = (
            warm["db_setup_median"] / base["db_setup_median"]
            if base["db_setup_median"] and warm["db_setup_median"] is not None
            else None
        )
        target = (
            ("skewed warm: wall / pytest -n N", ratio, TARGET_SKEWED)
            if suite.startswith("skewed")
            else ("heavy schema warm: DB set-up / pytest -n N's", setup, TARGET_HEAVY_SETUP)
        )
        result.append(
            {
                "suite": suite,
                "vendor": vendor,
                "runners": rows,
                "wall_ratio": None if ratio is None else round(ratio, 3),
                "setup_ratio": None if setup is None else round(setup, 3),
                "target": {
                    "name": target[0],
                    "measured": None if target[1] is None else round(target[1], 3),
                    "limit": target[2],
                    "met": None if target[1] is None else target[1] <= target[2],
                },
            }
        )
    return result


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def render(groups: list[dict[str, Any]], workers: int) -> list[str]:
    """Return the section of latest.md: one table row per runner, then the targets."""
    lines = [
        "## pytest: pytest-django + pytest-xdist, with and without the plugin",
        "",
        "Median wall seconds of the whole `pytest` command (ratio to plain `pytest -n "
        f"{workers}`); DB set-up = the slowest worker's `django_db_setup`; template = the "
        "plugin's controller step before the workers start.",
        "",
        "| suite | vendor | runner | median wall s | runs s | x plain | DB set-up s | template s |",
        "|---|---|---|---:|---|---:|---:|---:|",
    ]
    for group in groups:
        base = group["runners"][BASELINE]["median"]
        for runner in RUNNERS:
            row = group["runners"][runner.key]
            ratio = row["median"] / base if base and row["median"] else None
            lines.append(
                f"| {group['suite']} | {group['vendor']} | "
                f"{runner.label.replace('N', str(workers))} | {_s(row['median'])} | "
                f"{' / '.join(f'{w:.2f}' for w in row['walls'])} | "
                f"{'–' if ratio is None else f'{ratio:.2f}x'} | "
                f"{_s(row['db_setup_median'])} | {_s(row['template_median'])} |"
            )
    lines += [
        "",
        "| target | suite | vendor | measured | limit | met |",
        "|---|---|---|---:|---:|---|",
    ]
    for group in groups:
        target = group["target"]
        met = {True: "yes", False: "**no**", None: "–"}[target["met"]]
        measured = "–" if target["measured"] is None else f"{target['measured']:.3f}x"
        lines.append(
            f"| {target['name']} | {group['suite']} | {group['vendor']} | {measured} | "
            f"{target['limit']:.2f}x | {met} |"
        )
    return lines + [""]


def to_dicts(measurements: list[PytestMeasurement]) -> list[dict[str, Any]]:
    return [asdict(m) for m in measurements]
