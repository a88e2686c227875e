"""``python -m bench.real_suites``: run the real suites under every runner and compare, id by id.

``python -m bench.real_suites prepare [--suite NAME]`` checks out and installs the projects
(the only step that needs the projects' git repositories and the package index);
``python -m bench.real_suites [run] [--suite NAME] [--vendor VENDOR] [--skip-cold]`` runs them
and merges its rows into ``bench/results/real_suites.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import bytecode

from . import REPO_ROOT, RESULTS_DIR, RealSuitesError, runs, table
from . import compare as cmp
from . import projects as proj

logger = logging.getLogger(__name__)

RESULTS_NAME = "real_suites"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.real_suites",
        description="Run real Django suites serially, with Django --parallel 2 and with "
        "concurrent_test --workers 2 (cold and warm), and compare every test id's outcome.",
    )
    parser.add_argument(
        "step",
        nargs="?",
        choices=("run", "prepare", "render"),
        default="run",
        help="run (the default), prepare (check out and install), or render (rewrite the "
        "Markdown from the JSON results only)",
    )
    parser.add_argument(
        "--note", help="A sentence about this measurement, kept in the results' header."
    )
    names = [project.name for project in proj.PROJECTS]
    parser.add_argument("--suite", action="append", choices=names, help="Repeatable.")
    parser.add_argument("--vendor", action="append", choices=proj.VENDORS, help="Repeatable.")
    parser.add_argument(
        "--skip-cold", action="store_true", help="No cold run (the warm run still builds)."
    )
    parser.add_argument(
        "--runner", action="append", choices=runs.RUNNERS, help="Only these runners."
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="Where real_suites.md and .json go (default bench/results); run logs of another "
        "folder go to <checkout>/.real_suites/logs-<its name>.",
    )
    return parser.parse_args(argv)


def _migration_files(project: proj.Project) -> int:
    completed = subprocess.run(
        ["git", "ls-files", "*/migrations/[0-9]*.py"],
        cwd=project.checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return len(completed.stdout.split())


def run_one(
    project: proj.Project, vendor: str, runners: list[str], logs_name: str
) -> dict[str, Any]:
    """Run ``project`` on ``vendor`` under ``runners`` and return its results entry."""
    project.write_wrapper(vendor)
    databases = runs.describe_databases(project, vendor)
    logs = project.wrapper_dir / logs_name
    results: dict[str, runs.RunResult] = {}
    for runner in runners:
        # Each run starts as on a CI machine: the real databases absent from the server.
        absent = runs.drop_real_databases(project, databases)
        if absent:
            logger.info("Absent from the servers now: %s", ", ".join(absent))
        results[runner] = result = runs.run(project, vendor, runner, logs)
        logger.info(
            "%s %s %s: exit %s in %.1fs, %s ids%s",
            project.name,
            vendor,
            runner,
            result.exit_status,
            result.wall_seconds,
            len(result.outcomes),
            f" ({result.problem})" if result.problem else "",
        )
    serial = results["serial"].outcomes if "serial" in results else {}
    entry_runs = {}
    for name, result in results.items():
        equal, total = cmp.equal_to_serial(serial, result.outcomes)
        entry_runs[name] = {
            "command": " ".join(result.command),
            "exit_status": result.exit_status,
            "wall_seconds": result.wall_seconds,
            "tests_run": result.tests_run,
            "counts": result.counts(),
            "equal": equal,
            "total": total,
            "templates": result.templates,
            "problem": result.problem,
            "log": result.log,
        }
    ratio = None
    if "concurrent_warm" in results and "django_parallel" in results:
        ratio = round(
            results["concurrent_warm"].wall_seconds / results["django_parallel"].wall_seconds, 2
        )
    return {
        "suite": project.name,
        "vendor": vendor,
        "order": [p.name for p in proj.PROJECTS].index(project.name),
        "vendor_order": proj.VENDORS.index(vendor),
        "repo": project.repo,
        "commit": project.commit,
        "traits": list(project.traits),
        "labels": list(project.labels),
        "note": project.note,
        "migration_files": _migration_files(project),
        "databases": databases,
        "runs": entry_runs,
        "warm_ratio": ratio,
        "exceptions": cmp.as_dicts(cmp.exceptions(results)),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the harness; return the exit status."""
    logging.basicConfig(level=logging.INFO, format="[real_suites] %(message)s")
    options = parse_args(argv)
    selected = [p for p in proj.PROJECTS if not options.suite or p.name in options.suite]
    try:
        if options.step == "prepare":
            for project in selected:
                proj.prepare(project)
            return 0
        json_path = options.results_dir / f"{RESULTS_NAME}.json"
        md_path = options.results_dir / f"{RESULTS_NAME}.md"
        if options.step == "render":
            results = table.load(json_path)
            if options.note is not None:
                results["note"] = options.note
            table.write(results, json_path, md_path)
            print(f"Wrote {md_path}")
            return 0
        missing = [reason for p in selected if (reason := p.missing())]
        if missing:
            raise RealSuitesError("\n".join(missing))
        runners = [r for r in runs.RUNNERS if not options.runner or r in options.runner]
        if options.skip_cold and "concurrent_cold" in runners:
            runners.remove("concurrent_cold")
        default_dir = options.results_dir.resolve() == RESULTS_DIR.resolve()
        logs_name = "logs" if default_dir else f"logs-{options.results_dir.name}"
        options.results_dir.mkdir(parents=True, exist_ok=True)
        results = table.load(json_path)
        results["generated_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
        results["machine"] = (
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        results["workers"] = runs.WORKERS
        results["command"] = "python -m bench.real_suites"
        if options.note is not None:
            results["note"] = options.note
        if os.environ.get(proj.APP_PATH_ENV):
            results["concurrent_test_app_from"] = os.environ[proj.APP_PATH_ENV]
        app = Path(os.environ.get(proj.APP_PATH_ENV) or REPO_ROOT) / "concurrent_test_app"
        for project in selected:
            # As on a developer's machine or an installed app: bytecode is there for every
            # runner alike (see bench/bytecode.py).
            for tree in (app, project.checkout):
                bytecode.compile_tree(tree)
            for vendor in project.vendors:
                if options.vendor and vendor not in options.vendor:
                    continue
                table.merge(results, run_one(project, vendor, runners, logs_name))
                table.write(results, json_path, md_path)
    except RealSuitesError as exc:
        print(f"real_suites: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
