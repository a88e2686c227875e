"""``python -m bench`` (``make bench``): run every runner on every vendor and publish the medians.

Each timed round visits every selected suite and vendor and runs every selected runner once,
in an order rotated by one each round, so that drift in the machine's load falls on all runners
alike. Results go to ``latest.md`` (a table) and ``latest.json`` in ``--results-dir``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import GENERATED_DIR, REPO_ROOT, RESULTS_DIR, BenchError, bytecode, one_big, suites
from . import pytest_section as pytest_bench
from . import runners as run

logger = logging.getLogger(__name__)

SUITES = ("skewed", "one_big", "many_small", "heavy_schema")
TARGET_IDEAL = 1.10
TARGET_SKEWED_RATIO = 0.90
TARGET_SMALL_RATIO = 1.0
TARGET_HEAVY_SETUP = 0.10
# Issue 14: the one_big suite against Django --parallel N, and ideal makespan / whole wall.
TARGET_ONE_BIG_RATIO = 0.70
TARGET_EFFICIENCY = 0.97
# The suites whose work is CPU-bound classes of planned, uneven durations.
SKEWED_KINDS = ("skewed", "one_big")


def _csv(choices: Iterable[str]) -> Callable[[str], list[str]]:
    allowed = list(choices)

    def parse(value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{value!r} names no known choice; pass a comma-separated list of "
                f"{', '.join(allowed)}."
            )
        return names

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure concurrent_test against Django's own test runner, side by side.",
    )
    parser.add_argument("--suites", type=_csv(SUITES), default=list(SUITES))
    parser.add_argument("--vendors", type=_csv(run.VENDORS), default=list(run.VENDORS))
    parser.add_argument("--runners", type=_csv(run.RUNNERS), default=list(run.RUNNERS))
    parser.add_argument("--runs", type=int, default=None, help="Timed runs of each (default 3).")
    parser.add_argument("--workers", type=int, default=2, help="N for every runner (default 2).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="One small round: tiny suites and one timed run (a smoke test, not a measurement).",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--generated-dir", type=Path, default=GENERATED_DIR)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="Keep the other suites' and vendors' rows of the existing latest.json.",
    )
    parser.add_argument(
        "--keep-databases",
        action="store_true",
        help="Leave the bench's databases and templates on the servers afterwards.",
    )
    parser.add_argument(
        "--no-pytest",
        action="store_true",
        help="Leave out the pytest section (pytest -n N with and without the plugin).",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="Measure nothing: write latest.md again from the latest.json in --results-dir.",
    )
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1 or args.workers < 1:
        parser.error("--runs and --workers take a whole number of 1 or more.")
    return args


def say(message: str) -> None:
    """Print one progress line to stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Return what the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        import psutil

        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    import django

    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- the heavy-schema project (generated by bench.heavy_schema, owned elsewhere) ---------------


def heavy_schema_project(generated_dir: Path, quick: bool) -> suites.SuiteProject | str:
    """Return the heavy-schema project, or why it cannot be measured."""
    try:
        from . import heavy_schema  # type: ignore[attr-defined]
    except ImportError:
        return "bench/heavy_schema.py (its generator) is not in the repository yet"
    generate = getattr(heavy_schema, "generate_project", None)
    if generate is None:
        return "bench/heavy_schema.py has no generate_project() the bench knows how to call"
    project = generate(generated_dir, quick=quick)
    if not isinstance(project, suites.SuiteProject):
        return "bench/heavy_schema.generate_project() did not return a SuiteProject"
    return project


# -- statistics --------------------------------------------------------------------------------


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(
    project: suites.SuiteProject,
    vendor: run.Vendor,
    measurements: list[run.Measurement],
    *,
    workers: int,
    measured_at: str,
    server_version: str,
) -> dict[str, Any]:
    """Return the medians, ratios, ideal makespan and targets of one suite on one vendor."""
    by_runner: dict[str, list[run.Measurement]] = {}
    for m in measurements:
        by_runner.setdefault(m.runner, []).append(m)
    concurrent = [m for m in measurements if m.unit_seconds]
    warm = [m for m in by_runner.get("concurrent_warm", []) if m.unit_seconds]
    # The ideal comes from the warm runs' own unit times (cold runs' when there are none).
    ideal = _median(m.ideal(workers) for m in (warm or concurrent))
    baseline = _median(m.wall_seconds for m in by_runner.get(run.BASELINE, []))
    rows: dict[str, Any] = {}
    for key, spec in run.RUNNERS.items():
        runs = by_runner.get(key)
        if not runs:
            continue
        median = _median(m.wall_seconds for m in runs)
        assert median is not None
        rows[key] = {
            "label": spec.display(workers),
            "walls": [round(m.wall_seconds, 3) for m in runs],
            "median": round(median, 3),
            "ratio": round(median / baseline, 3) if baseline else None,
            "db_setup_median": _round(_median(m.db_setup_seconds for m in runs)),
            "efficiency": round(ideal / median, 3) if ideal else None,
            "ms_per_test": round(median / project.shape.tests * 1000, 2),
            "cpu_median": _round(_median(m.cpu_seconds for m in runs)),
            "pool_wall_median": _round(_median(m.pool_wall_seconds for m in runs)),
        }
    clones = [s for m in concurrent for s in m.clone_seconds]
    ideal_plus_clone = _median((m.ideal(workers) or 0.0) + sum(m.clone_seconds) for m in warm)
    # Judged run by run: each warm run's own wall against its own ideal plus its clones.
    warm_vs_ideal = _median(
        m.pool_wall_seconds / ((m.ideal(workers) or 0.0) + sum(m.clone_seconds))
        for m in warm
        if m.pool_wall_seconds and m.ideal(workers)
    )
    group: dict[str, Any] = {
        "suite": project.name,
        "vendor": vendor.name,
        "vendor_label": vendor.label,
        "server_version": server_version,
        "measured_at": measured_at,
        "workers": workers,
        "tests": project.shape.tests,
        "units": project.shape.units,
        "runners": rows,
        "ideal_seconds": _round(ideal),
        "ideal_plus_clone_seconds": _round(ideal_plus_clone),
        "warm_wall_over_ideal": _round(warm_vs_ideal),
        "planned_ideal_seconds": _round(project.shape.planned_ideal(workers) or None),
        "clone_ms_median": _round(statistics.median(clones) * 1000 if clones else None, 1),
        "clone_count": len(clones),
        "load_median": _round(_median(m.load_before for m in measurements), 2),
        "template_build_seconds_median": _round(
            _median(m.template_seconds for m in by_runner.get("concurrent_cold", []))
        ),
    }
    group["targets"] = targets(group)
    return group


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def targets(group: dict[str, Any]) -> list[dict[str, Any]]:
    """Return issue 8's targets for one suite on one vendor, each measured and judged."""
    rows = group["runners"]
    warm = rows.get("concurrent_warm")
    result: list[dict[str, Any]] = []

    def add(
        name: str, measured: float | None, limit: float, detail: str, at_least: bool = False
    ) -> None:
        met = None if measured is None else (measured >= limit if at_least else measured <= limit)
        result.append(
            {
                "target": name,
                "measured": _round(measured),
                "limit": limit,
                "met": met,
                "detail": detail,
                "at_least": at_least,
            }
        )

    suite = group["suite"].removesuffix("_quick")
    if warm is None:
        return result
    if suite == "skewed":
        ideal = group["ideal_plus_clone_seconds"]
        pool = warm["pool_wall_median"]
        add(
            "skewed warm: run wall / (ideal makespan + clone time)",
            group["warm_wall_over_ideal"],
            TARGET_IDEAL,
            f"median of each warm run's own wall (JSON report: clones, worker start, all "
            f"units; median {pool}s) over its ideal + clones (median {ideal}s); end to end "
            f"the command took {warm['median']}s",
        )
        add(
            "skewed warm: wall / Django --parallel N",
            warm["ratio"],
            TARGET_SKEWED_RATIO,
            "end-to-end command wall time, medians",
        )
    if suite in SKEWED_KINDS:
        add(
            f"{suite} warm: efficiency (ideal makespan / whole command wall)",
            warm["efficiency"],
            TARGET_EFFICIENCY,
            f"ideal makespan {group['ideal_seconds']}s (split pieces counted as units) over the "
            f"command's median wall {warm['median']}s",
            at_least=True,
        )
    if suite == "one_big":
        add(
            "one_big warm: wall / Django --parallel N",
            warm["ratio"],
            TARGET_ONE_BIG_RATIO,
            "end-to-end command wall time, medians",
        )
    elif suite == "many_small":
        add(
            "many small warm: wall / Django --parallel N",
            warm["ratio"],
            TARGET_SMALL_RATIO,
            "end-to-end command wall time, medians",
        )
    elif suite == "heavy_schema":
        django = rows.get(run.BASELINE, {}).get("db_setup_median")
        keepdb = rows.get("django_parallel_keepdb", {}).get("db_setup_median")
        mine = warm["db_setup_median"]
        add(
            "heavy schema warm: DB set-up / Django --parallel N set-up",
            mine / django if mine is not None and django else None,
            TARGET_HEAVY_SETUP,
            f"warm {mine}s vs Django without --keepdb {django}s (with --keepdb: {keepdb}s)",
        )
    return result


# -- the run -----------------------------------------------------------------------------------


def build_projects(args: argparse.Namespace) -> tuple[list[suites.SuiteProject], dict[str, str]]:
    projects: list[suites.SuiteProject] = []
    not_measured: dict[str, str] = {}
    rate = suites.calibrate() if set(SKEWED_KINDS) & set(args.suites) else None
    for name in args.suites:
        if name == "heavy_schema":
            project = heavy_schema_project(args.generated_dir, args.quick)
            if isinstance(project, str):
                not_measured[name] = project
                say(f"heavy_schema: not measured: {project}")
                continue
        elif name == "one_big":
            project = one_big.generate_one_big(args.generated_dir, quick=args.quick, rate=rate)
        else:
            project = suites.generate(name, args.generated_dir, quick=args.quick, rate=rate)
        say(f"generated {suites.describe(project)}")
        projects.append(project)
    return projects, not_measured


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.render_only:
        results = json.loads((args.results_dir / "latest.json").read_text())
        write_results(results, args.results_dir)
        say(f"wrote {args.results_dir / 'latest.md'} from latest.json")
        return 0
    started = time.time()
    info = machine()
    vendors: list[run.Vendor] = []
    not_measured: dict[str, str] = {}
    versions: dict[str, str] = {}
    for name in args.vendors:
        vendor = run.VENDORS[name]
        if not vendor.reachable():
            not_measured[name] = f"{vendor.label} is not reachable on {vendor.host}:{vendor.port}"
            say(f"{name}: not measured: {not_measured[name]}")
            continue
        vendors.append(vendor)
        versions[name] = vendor.server_version()
    projects, skipped = build_projects(args)
    not_measured.update(skipped)
    # As installed: the app and the suites with their bytecode (see bench/bytecode.py).
    for tree in [REPO_ROOT / "concurrent_test_app", *(p.root for p in projects)]:
        bytecode.compile_tree(tree)
    specs = [run.RUNNERS[key] for key in args.runners]
    scratch = args.generated_dir / "scratch"
    measurements: list[run.Measurement] = []
    pytest_runs: list[pytest_bench.PytestMeasurement] = []
    try:
        for project in projects:
            for vendor in vendors:
                say(f"{project.name}/{vendor.name}: preparing (untimed warm-up)")
                run.prepare(project, vendor, workers=args.workers, scratch=scratch)
                if _with_pytest(args, project):
                    pytest_bench.prepare(project, vendor, workers=args.workers, scratch=scratch)
        for round_number in range(args.runs):
            for project in projects:
                for vendor in vendors:
                    # Rotate the order each round: load drift falls on every runner alike.
                    shift = round_number % len(specs)
                    for spec in specs[shift:] + specs[:shift]:
                        m = run.measure(
                            project,
                            vendor,
                            spec,
                            workers=args.workers,
                            scratch=scratch,
                            round_number=round_number + 1,
                        )
                        measurements.append(m)
                        say(
                            f"round {round_number + 1}/{args.runs} {project.name}/{vendor.name} "
                            f"{spec.key}: {m.wall_seconds:.2f}s"
                        )
                    if _with_pytest(args, project):
                        pytest_runs += _pytest_round(args, project, vendor, scratch, round_number)
    finally:
        if not args.keep_databases:
            for project in projects:
                for vendor in vendors:
                    try:
                        run.cleanup(project, vendor, workers=args.workers)
                    except Exception as exc:  # cleaning up must not hide the real error
                        say(f"cleanup of {project.name}/{vendor.name} failed: {exc}")
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    measured_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    groups = [
        summarize(
            project,
            vendor,
            [m for m in measurements if m.suite == project.name and m.vendor == vendor.name],
            workers=args.workers,
            measured_at=measured_at,
            server_version=versions[vendor.name],
        )
        for project in projects
        for vendor in vendors
    ]
    command = "python -m bench" + _flags(args)
    results = {
        "measured_at": measured_at,
        "duration_seconds": round(time.time() - started, 1),
        "command": command,
        "machine": info,
        "shared_machine": True,
        "settings": {
            "workers": args.workers,
            "runs": args.runs,
            "quick": args.quick,
            "suites": args.suites,
            "vendors": args.vendors,
            "runners": args.runners,
        },
        "suites": {p.name: p.to_dict() for p in projects},
        "groups": groups,
        "not_measured": not_measured,
        "measurements": [m.to_dict() for m in measurements],
        "pytest": pytest_bench.summarize(pytest_runs),
        "pytest_measurements": pytest_bench.to_dicts(pytest_runs),
    }
    if args.merge:
        results = merge(results, args.results_dir / "latest.json")
    write_results(results, args.results_dir)
    say(f"wrote {args.results_dir / 'latest.md'} in {results['duration_seconds']:.0f}s")
    return 0


def _with_pytest(args: argparse.Namespace, project: suites.SuiteProject) -> bool:
    return not args.no_pytest and project.name.removesuffix("_quick") in pytest_bench.SUITES


def _pytest_round(
    args: argparse.Namespace,
    project: suites.SuiteProject,
    vendor: run.Vendor,
    scratch: Path,
    round_number: int,
) -> list[pytest_bench.PytestMeasurement]:
    """Run the pytest section's runners once each, in an order rotated each round."""
    specs = list(pytest_bench.RUNNERS)
    shift = round_number % len(specs)
    done = []
    for spec in specs[shift:] + specs[:shift]:
        m = pytest_bench.measure(
            project, vendor, spec, workers=args.workers, scratch=scratch, round_number=round_number
        )
        done.append(m)
        say(
            f"round {round_number + 1}/{args.runs} {project.name}/{vendor.name} "
            f"{spec.key}: {m.wall_seconds:.2f}s"
        )
    return done


def _flags(args: argparse.Namespace) -> str:
    flags = []
    if args.quick:
        flags.append("--quick")
    if list(args.suites) != list(SUITES):
        flags.append(f"--suites {','.join(args.suites)}")
    if list(args.vendors) != list(run.VENDORS):
        flags.append(f"--vendors {','.join(args.vendors)}")
    if list(args.runners) != list(run.RUNNERS):
        flags.append(f"--runners {','.join(args.runners)}")
    if args.runs != (1 if args.quick else 3):
        flags.append(f"--runs {args.runs}")
    if args.workers != 2:
        flags.append(f"--workers {args.workers}")
    if args.no_pytest:
        flags.append("--no-pytest")
    return "".join(f" {flag}" for flag in flags)


def merge(results: dict[str, Any], previous_path: Path) -> dict[str, Any]:
    """Add the groups of ``previous_path`` that this run did not measure again."""
    if not previous_path.exists():
        return results
    previous = json.loads(previous_path.read_text())
    fresh = {(g["suite"], g["vendor"]) for g in results["groups"]}
    kept = [g for g in previous.get("groups", []) if (g["suite"], g["vendor"]) not in fresh]
    results["groups"] = kept + results["groups"]
    results["suites"] = {**previous.get("suites", {}), **results["suites"]}
    results["measurements"] = [
        m for m in previous.get("measurements", []) if (m["suite"], m["vendor"]) not in fresh
    ] + results["measurements"]
    measured = {g["suite"] for g in results["groups"]} | {g["vendor"] for g in results["groups"]}
    results["not_measured"] = {
        **{k: v for k, v in previous.get("not_measured", {}).items() if k not in measured},
        **results["not_measured"],
    }
    results["pytest"] = [
        g for g in previous.get("pytest", []) if (g["suite"], g["vendor"]) not in fresh
    ] + results.get("pytest", [])
    results["pytest_measurements"] = [
        m for m in previous.get("pytest_measurements", []) if (m["suite"], m["vendor"]) not in fresh
    ] + results.get("pytest_measurements", [])
    results["merged_from"] = previous.get("measured_at")
    return results


# -- writing -----------------------------------------------------------------------------------


def write_results(results: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (directory / "latest.md").write_text(render_markdown(results))


def _s(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _x(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}x"


def render_markdown(results: dict[str, Any]) -> str:
    """Return the results as a Markdown page: the machine, one table per suite, the targets."""
    info = results["machine"]
    settings = results["settings"]
    n = settings["workers"]
    lines = [
        "# Benchmark: concurrent_test against Django's test runner",
        "",
        f"Measured {results['measured_at']} with `{results['command']}` "
        f"({results['duration_seconds'] / 60:.1f} min).",
        "",
        f"- Machine: nproc {info['nproc']}, {info['cpu_model']}, "
        f"{info['memory_gib']} GiB memory; Python {info['python']}, Django {info['django']}.",
        f"- **Shared machine**: other engineers were running their tests on the same two cores "
        f"during the measurement (load average {_loads(info.get('load_average_start'))} at the "
        f"start, {_loads(info.get('load_average_end'))} at the end). Absolute seconds drift; "
        "the ratios, measured side by side, are what to compare.",
        f"- N = {n} workers for every parallel runner; {settings['runs']} timed run(s) of each "
        "command, medians shown; within a round every command runs once, in an order rotated "
        "each round. Wall = the whole `manage.py` command, start to exit.",
        '- DB set-up: Django\'s `--timing` line "Total database setup" (create, migrate, clone); '
        "for concurrent_test the same line (template build or reuse) plus its worker clones.",
        "- CPU s = user + system seconds of the command and its worker processes (it moves "
        "less with load than wall time does).",
        "- Efficiency = ideal makespan / wall, where the ideal makespan is max(sum of unit times "
        f"/ {n}, longest unit), unit times taken from concurrent_test's JSON reports.",
    ]
    if results.get("merged_from"):
        lines.append(
            f"- Some rows were kept from the run of {results['merged_from']} (`--merge`); "
            "each section names when it was measured."
        )
    if settings.get("quick"):
        lines.append("- **--quick**: tiny suites and one run; a smoke test, not a measurement.")
    lines.append("")
    suites_info = results["suites"]
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for group in results["groups"]:
        by_suite.setdefault(group["suite"], []).append(group)
    for suite, groups in by_suite.items():
        info_suite = suites_info.get(suite, {})
        lines += [f"## {suite}: {info_suite.get('description', '')}", ""]
        lines += _suite_table(groups, suite)
        lines.append("")
        lines += _suite_notes(groups, info_suite, n)
        lines.append("")
    for name, reason in results.get("not_measured", {}).items():
        lines += [f"## {name}: not measured", "", reason + ".", ""]
    lines += ["## Clone time per vendor (concurrent_test, from its metrics file)", ""]
    lines += ["| suite | vendor | clones | median ms per clone | template build (cold) s |"]
    lines += ["|---|---|---:|---:|---:|"]
    for group in results["groups"]:
        lines.append(
            f"| {group['suite']} | {group['vendor_label']} | {group['clone_count']} | "
            f"{_s(group['clone_ms_median'], 1)} | {_s(group['template_build_seconds_median'])} |"
        )
    lines += [
        "",
        "SQLite clones show as about 0 ms: the parent only points each worker at the template "
        "file, and the worker copies it into its in-memory database as it starts (that time is "
        "in the run's wall, not here). PostgreSQL clones are `CREATE DATABASE .. TEMPLATE`, "
        "MariaDB clones an in-server copy; the pool makes a run's clones one after another. A "
        "warm run copies nothing: it takes the ready clones the previous run left (a lock and "
        "one bookkeeping transaction each), which is what its rows here measure.",
    ]
    if results.get("pytest"):
        lines += [""] + pytest_bench.render(results["pytest"], n)
    lines += ["", "## Targets (issues 8 and 14)", ""]
    lines += ["| target | vendor | measured | limit | met | how |", "|---|---|---:|---:|---|---|"]
    for group in results["groups"]:
        for target in group["targets"]:
            met = {True: "yes", False: "**no**", None: "–"}[target["met"]]
            limit = f"{'>= ' if target.get('at_least') else ''}{target['limit']:.2f}"
            lines.append(
                f"| {target['target']} | {group['vendor_label']} | {_x(target['measured'], 3)} | "
                f"{limit}x | {met} | {target['detail']} |"
            )
    if "heavy_schema" in results.get("not_measured", {}):
        lines.append(
            "| heavy schema warm: DB set-up / Django --parallel N set-up | all | – | 0.10x | "
            "not measured | " + results["not_measured"]["heavy_schema"] + " |"
        )
    lines.append("")
    return "\n".join(lines)


def _loads(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"


LAST_COLUMN = {
    "skewed": ("efficiency", "efficiency"),
    "one_big": ("efficiency", "efficiency"),
    "many_small": ("ms per test", "ms_per_test"),
    "heavy_schema": ("DB set-up x Django --parallel", "setup_ratio"),
}


def _kind(suite: str) -> str:
    return suite.removesuffix("_quick")


def _suite_table(groups: list[dict[str, Any]], suite: str) -> list[str]:
    title, key = LAST_COLUMN.get(_kind(suite), ("efficiency", "efficiency"))
    header = (
        "| vendor | runner | median wall s | runs s | x Django --parallel | DB set-up s | CPU s | "
        f"{title} |"
    )
    lines = [header, "|---|---|---:|---|---:|---:|---:|---:|"]
    for group in groups:
        baseline = group["runners"].get(run.BASELINE, {}).get("db_setup_median")
        for row in group["runners"].values():
            if key == "setup_ratio":
                setup = row["db_setup_median"]
                last = _x(setup / baseline if setup is not None and baseline else None)
            else:
                last = _s(row[key])
            lines.append(
                f"| {group['vendor_label']} | {row['label']} | {_s(row['median'])} | "
                f"{' / '.join(f'{w:.2f}' for w in row['walls'])} | {_x(row['ratio'])} | "
                f"{_s(row['db_setup_median'])} | {_s(row['cpu_median'], 1)} | {last} |"
            )
    return lines


def _suite_notes(groups: list[dict[str, Any]], info_suite: dict[str, Any], n: int) -> list[str]:
    lines = []
    for group in groups:
        warm = group["runners"].get("concurrent_warm") or {}
        parts = [
            f"{group['vendor_label']} ({group['server_version']}, measured "
            f"{group['measured_at']}, median load average {_s(group['load_median'])} as "
            "commands started)"
        ]
        if _kind(group["suite"]) not in SKEWED_KINDS:
            if warm.get("pool_wall_median") is not None:
                parts.append(f"warm run's own wall (report) {_s(warm['pool_wall_median'])} s")
            lines.append("- " + "; ".join(parts) + ".")
            continue
        parts.append(f"ideal makespan {_s(group['ideal_seconds'])} s")
        if group.get("planned_ideal_seconds"):
            parts.append(f"planned {_s(group['planned_ideal_seconds'])} s")
        if group.get("ideal_plus_clone_seconds") is not None:
            parts.append(f"ideal + clones {_s(group['ideal_plus_clone_seconds'])} s")
        if warm.get("pool_wall_median") is not None:
            parts.append(f"warm run's own wall (report) {_s(warm['pool_wall_median'])} s")
        lines.append("- " + "; ".join(parts) + ".")
    if info_suite.get("rounds_per_second"):
        lines.append(
            f"- CPU work calibrated at {info_suite['rounds_per_second']:,} loop rounds per "
            "second on one core when the suite was generated."
        )
    return lines


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        say(f"failed: {exc}")
        sys.exit(1)
