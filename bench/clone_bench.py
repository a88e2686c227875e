"""Clone benchmark: our template clones against Django's own ``clone_test_db``, per vendor.

``python -m bench.clone_bench`` measures, side by side in one run, on ``sample_project`` and on
the generated heavy schema (:mod:`bench.heavy_schema`), on every reachable vendor:

- **clones**: N worker clones from our template (``WorkerDatabases.prepare_slot`` one slot
  after another, as the pool calls it, and ``prepare_slots`` all at once) against N calls of
  Django's ``connection.creation.clone_test_db`` from Django's test database (on MariaDB that
  is Django's mysqldump pipe);
- **set-up**: a cold set-up (template built from scratch, then N clones) against a warm one
  (template reused, then N clones), both through ``WorkerDatabases`` exactly as a run does,
  next to Django's own (``create_test_db`` with its migrations, then N clones);
- **incremental**: one migration added on top of a built template, against a full build.

Each measurement is repeated ``--runs`` times in a rotating order and the median is reported,
because clone times on these disks swing between runs. Every project is copied to a temporary
folder first (the incremental step writes a migration) and uses a database name of its own, so
nothing here touches another run's databases; everything made is dropped at the end.
Results go to ``bench/results/clones.md`` (and ``clones.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import GENERATED_DIR, REPO_ROOT, RESULTS_DIR, BenchError

logger = logging.getLogger(__name__)

VENDORS = ("sqlite", "postgresql", "mysql")
PROJECTS = ("sample", "heavy")
SERVERS = {
    "postgresql": ("127.0.0.1", 5432, "postgres://postgres@127.0.0.1:5432/{name}"),
    "mysql": ("127.0.0.1", 3306, "mysql://root@127.0.0.1:3306/{name}"),
}
TARGETS = {
    "clones": 1.0,  # our N clones at most Django's N clones
    "mysql_clone": 0.5,  # a MariaDB clone at most half of Django's mysqldump pipe
    "warm": 0.10,  # warm set-up at most 10% of cold set-up
    "incremental": 0.25,  # one added migration at most 25% of a full build
}

EXTRA_MIGRATION = """\
# Written by bench/clone_bench.py for the incremental measurement.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [({app!r}, {leaf!r})]

    operations = [
        migrations.CreateModel(
            name="CloneBenchExtra",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("label", models.CharField(max_length=50)),
            ],
        ),
    ]
"""


# -- the outer process: projects, vendors, report ----------------------------------------------


def _reachable(vendor: str) -> bool:
    if vendor == "sqlite":
        return True
    host, port, _url = SERVERS[vendor]
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _project_source(name: str, quick: bool) -> tuple[Path, str]:
    """Return (project folder, settings module) of ``name``."""
    if name == "sample":
        return REPO_ROOT / "sample_project", "config.settings"
    from .heavy_schema import generate_project

    project = generate_project(GENERATED_DIR, quick=quick)
    return project.root, project.settings_module


def measure(
    project: str, vendor: str, counts: list[int], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Copy ``project``, point it at ``vendor`` and run the measurements in a fresh process."""
    source, settings_module = _project_source(project, args.quick)
    with tempfile.TemporaryDirectory(prefix="clone-bench-") as tmp:
        root = Path(tmp) / source.name
        shutil.copytree(
            source,
            root,
            ignore=shutil.ignore_patterns(
                "__pycache__", "*.sqlite3", ".concurrent_test", "reports", "artifacts"
            ),
        )
        name = f"benchc_{uuid.uuid4().hex[:8]}"
        if vendor == "sqlite":
            url = f"sqlite:///{root / 'db.sqlite3'}"
        else:
            url = SERVERS[vendor][2].format(name=name)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": os.pathsep.join([str(root), str(REPO_ROOT)]),
        }
        env.pop("BENCH_TEST_DATABASE_NAME", None)
        options = {"workers": counts, "runs": args.runs, "root": str(root)}
        done = subprocess.run(
            [sys.executable, "-m", "bench.clone_bench", "--inner", json.dumps(options)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0 or "RESULT " not in done.stdout:
            raise BenchError(
                f"clone bench of {project} on {vendor} failed (exit {done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        results = json.loads(done.stdout.split("RESULT ", 1)[1])
        for result in results:
            result.update({"project": project, "vendor": vendor})
        return list(results)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:.2f}x {'✓' if ratio <= target else '✗'}"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.1f} ms" if seconds < 0.01 else f"{seconds * 1000:,.0f} ms"


def render(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Return the Markdown report."""
    n = "N"
    lines = [
        "# Template clones against Django's own, side by side",
        "",
        f"Generated by `python -m bench.clone_bench` on {meta['date']}: N = {meta['workers']} "
        f"workers, medians "
        f"of {meta['runs']} runs per figure, {meta['cpus']} CPUs, load average at start "
        f"{meta['load']}. ✓ meets the target of issue 4, ✗ misses it.",
        "",
        f"## Setting up {n} worker clones",
        "",
        "Ours: `WorkerDatabases.prepare_slot` for each slot in turn, as the pool calls it "
        "(concurrent: `prepare_slots`, all at once). Django: `clone_test_db` for each, from its "
        "test database (MariaDB: its mysqldump pipe; SQLite: a file test database).",
        "",
        "| project | vendor | N | Django, N clones | ours, N clones | ours / Django (≤ 1.00) "
        "| ours, concurrent | one clone: ours | one clone: Django | MariaDB ours / Django "
        "(≤ 0.50) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        mysql = (
            _verdict(_ratio(r["clone_one_ours"], r["clone_one_django"]), TARGETS["mysql_clone"])
            if r["vendor"] == "mysql"
            else ""
        )
        lines.append(
            f"| {r['project']} | {r['vendor']} | {r['workers']} | {_ms(r['clones_django'])} "
            f"| {_ms(r['clones_ours'])} "
            f"| {_verdict(_ratio(r['clones_ours'], r['clones_django']), TARGETS['clones'])} "
            f"| {_ms(r['clones_ours_concurrent'])} | {_ms(r['clone_one_ours'])} "
            f"| {_ms(r['clone_one_django'])} | {mysql} |"
        )
    lines += [
        "",
        "## Database set-up of a run: warm against cold",
        "",
        f"Cold: no template of the fingerprint yet, so it is built from scratch, then {n} "
        f"clones. Warm: the template reused "
        f"(fingerprint computed, nothing migrated), then {n} fresh clones, one slot after "
        f"another as the pool asks for them, or all at once (`prepare_slots`); with --keepdb "
        f"the clones of the previous run are reused while their fingerprint matches. All "
        f"include serializing the test database, as a run does. Django: `create_test_db` "
        f"(migrating from zero, as "
        f"every run without --keepdb does), then {n} clones.",
        "",
        "| project | vendor | N | Django set-up | ours cold | ours warm | warm / cold (≤ 0.10) "
        "| ours warm, clones at once | at once / cold | ours warm, --keepdb | --keepdb / cold "
        "| ours warm / Django |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['project']} | {r['vendor']} | {r['workers']} | {_ms(r['setup_django'])} "
            f"| {_ms(r['setup_cold'])} | {_ms(r['setup_warm'])} "
            f"| {_verdict(_ratio(r['setup_warm'], r['setup_cold']), TARGETS['warm'])} "
            f"| {_ms(r['setup_warm_concurrent'])} "
            f"| {_verdict(_ratio(r['setup_warm_concurrent'], r['setup_cold']), TARGETS['warm'])} "
            f"| {_ms(r['setup_warm_keepdb'])} "
            f"| {_verdict(_ratio(r['setup_warm_keepdb'], r['setup_cold']), TARGETS['warm'])} "
            f"| {_ratio(r['setup_warm'], r['setup_django']) or 0:.2f}x |"
        )
    lines += [
        "",
        "## One migration added on top of a built template",
        "",
        "Incremental: the older template cloned and only the new migration applied. Full: "
        "`build_test_template --force`, every migration from zero.",
        "",
        "| project | vendor | full build | incremental | migrations applied | "
        "incremental / full (≤ 0.25) | same schema as a full build |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['project']} | {r['vendor']} | {_ms(r['build_full'])} "
            f"| {_ms(r['build_incremental'])} | {r['incremental_applied']} "
            f"| {_verdict(_ratio(r['build_incremental'], r['build_full']), TARGETS['incremental'])}"
            f" | {'yes' if r['incremental_schema_matches'] else 'NO'} |"
        )
    lines += ["", "Raw medians and every run are in `clones.json` beside this file.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clone_bench", description=__doc__)
    parser.add_argument("--vendors", default=",".join(VENDORS))
    parser.add_argument("--projects", default=",".join(PROJECTS))
    parser.add_argument(
        "--workers", default="2,4", help="Comma-separated worker counts (default 2,4)."
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="The small heavy schema.")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        inner(json.loads(args.inner))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = []
    counts = [int(n) for n in str(args.workers).split(",")]
    for project in args.projects.split(","):
        for vendor in args.vendors.split(","):
            if not _reachable(vendor):
                logger.warning("%s is not reachable; skipped", vendor)
                continue
            started = time.monotonic()
            logger.info("measuring %s on %s (workers %s) ...", project, vendor, counts)
            results.extend(measure(project, vendor, counts, args))
            logger.info("  done in %.0fs", time.monotonic() - started)
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "workers": ", ".join(str(n) for n in counts),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "clones.md").write_text(render(results, meta))
    (args.results_dir / "clones.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    sys.stdout.write(render(results, meta))
    return 0


# -- the inner process: one project on one vendor, Django set up -------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _quiet(message: str) -> None:
    """Drop what set-up says: the measurements are this bench's output."""


def _local_app(root: Path) -> str:
    """Return the label of the project's last app with migrations, to add a migration to."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    local = [
        config.label
        for config in apps.get_app_configs()
        if config.label in loader.migrated_apps and Path(config.path).resolve().is_relative_to(root)
    ]
    if not local:
        raise BenchError(f"{root} has no app of its own with migrations")
    return sorted(local)[-1]


def inner(options: dict[str, Any]) -> None:
    """Measure one project on one vendor; print the result as JSON after ``RESULT ``."""
    import django

    django.setup()
    from django.db import connections

    from concurrent_test_app.databases.slots import WorkerDatabases
    from concurrent_test_app.databases.template import TemplateBuilder

    counts = [int(n) for n in options["workers"]]
    runs, root = int(options["runs"]), Path(options["root"])
    connection = connections["default"]
    real_name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        # Test on a file, ours and Django's alike: Django's in-memory test database is "cloned"
        # by fork for free, and so is ours (each worker backs the template up into memory).
        connection.settings_dict["TEST"]["NAME"] = str(root / "test_db.sqlite3")
    keys = (
        "clones_ours",
        "clones_ours_concurrent",
        "clones_django",
        "clone_one_ours",
        "clone_one_django",
        "setup_cold",
        "setup_warm",
        "setup_warm_concurrent",
        "setup_warm_keepdb",
        "setup_django",
        "build_full",
        "build_incremental",
    )
    by_count: dict[int, dict[str, list[float]]] = {n: {k: [] for k in keys} for n in counts}

    def ours(n: int, cold: bool) -> None:
        runs_of, slots = by_count[n], list(range(1, n + 1))
        if cold:  # as on a first run: no template of this fingerprint yet (dropped untimed)
            builder = TemplateBuilder("default", log=_quiet, verbosity=0)
            builder.cloner.drop(builder.name)
        started = time.perf_counter()
        databases = WorkerDatabases({"default": True}, log=_quiet, verbosity=0)
        databases.setup()
        setup_started = time.perf_counter()
        for slot in slots:
            databases.prepare_slot(slot)
        finished = time.perf_counter()
        runs_of["setup_cold" if cold else "setup_warm"].append(finished - started)
        if not cold:
            runs_of["clones_ours"].append(finished - setup_started)
            runs_of["clone_one_ours"].extend(databases.clone_seconds)
            for slot in slots:
                databases.drop_slot(slot)
            concurrent_started = time.perf_counter()
            databases.prepare_slots(slots)
            runs_of["clones_ours_concurrent"].append(time.perf_counter() - concurrent_started)
        else:
            runs_of["build_full"].append(databases.templates[0].seconds)
        databases.teardown()

    def ours_warm_concurrent(n: int) -> None:
        started = time.perf_counter()
        databases = WorkerDatabases({"default": True}, log=_quiet, verbosity=0)
        databases.setup()
        databases.prepare_slots(list(range(1, n + 1)))
        by_count[n]["setup_warm_concurrent"].append(time.perf_counter() - started)
        databases.teardown()

    def ours_keepdb(n: int, record: bool = True) -> None:
        started = time.perf_counter()
        databases = WorkerDatabases({"default": True}, log=_quiet, verbosity=0, keepdb=True)
        databases.setup()
        for slot in range(1, n + 1):
            databases.prepare_slot(slot)
        if record:
            by_count[n]["setup_warm_keepdb"].append(time.perf_counter() - started)
        databases.teardown()

    def django_own(n: int) -> None:
        runs_of, slots = by_count[n], list(range(1, n + 1))
        creation = connection.creation
        started = time.perf_counter()
        old_name = real_name
        creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        connection._test_serialized_contents = creation.serialize_db_to_string()
        clones_started = time.perf_counter()
        for slot in slots:
            one = time.perf_counter()
            creation.clone_test_db(suffix=str(slot), verbosity=0, autoclobber=True)
            runs_of["clone_one_django"].append(time.perf_counter() - one)
        finished = time.perf_counter()
        runs_of["clones_django"].append(finished - clones_started)
        runs_of["setup_django"].append(finished - started)
        for slot in slots:
            creation.destroy_test_db(verbosity=0, suffix=str(slot))
        creation.destroy_test_db(old_name, verbosity=0)

    # One cold build first, so that every warm round finds its template, and one --keepdb
    # run, so that every --keepdb round finds its clones.
    ours(counts[0], cold=True)
    ours_keepdb(max(counts), record=False)
    steps = [
        step
        for n in counts
        for step in (
            lambda n=n: ours(n, cold=True),
            lambda n=n: ours(n, cold=False),
            lambda n=n: ours_warm_concurrent(n),
            lambda n=n: ours_keepdb(n),
            lambda n=n: django_own(n),
        )
    ]
    for round_index in range(runs):
        for offset in range(len(steps)):
            steps[(round_index + offset) % len(steps)]()

    # Incremental: a migration on top of the current template, then back again.
    app = _local_app(root)
    from django.db.migrations.loader import MigrationLoader

    leaf = max(name for label, name in MigrationLoader(None).graph.leaf_nodes() if label == app)
    from django.apps import apps

    extra = Path(apps.get_app_config(app).path) / "migrations" / "9999_clone_bench_extra.py"
    applied, schemas_match = 0, True
    incremental: list[float] = []
    for round_index in range(runs):
        base = TemplateBuilder("default", log=_quiet, verbosity=0)
        base.ensure()
        extra.write_text(EXTRA_MIGRATION.format(app=app, leaf=leaf))
        try:
            builder = TemplateBuilder("default", log=_quiet, verbosity=0)
            result = builder.ensure()
            if result.mode != "incremental":
                raise BenchError(f"expected an incremental build, got {result.mode}")
            incremental.append(result.seconds)
            applied = result.applied
            if round_index == 0:  # the full build's schema, once: builds are timed above
                full = TemplateBuilder("default", log=_quiet, verbosity=0).ensure(force=True)
                schemas_match = full.schema == result.schema
            builder.cloner.drop(result.name)
        finally:
            extra.unlink()
            sys.modules.pop(f"{app}.migrations.9999_clone_bench_extra", None)

    # Everything this process made: templates and clones under its own prefix.
    builder = TemplateBuilder("default", log=_quiet, verbosity=0)
    for name in builder.cloner.list_names(builder.prefix):
        builder.cloner.drop(name)
    connections.close_all()

    results = []
    for n, runs_of in by_count.items():
        runs_of["build_incremental"] = incremental
        result: dict[str, Any] = {key: _median(values) for key, values in runs_of.items()}
        result.update(
            {
                "workers": n,
                "runs": runs,
                "incremental_applied": applied,
                "incremental_schema_matches": schemas_match,
                "all_runs": runs_of,
            }
        )
        results.append(result)
    sys.stdout.write("RESULT " + json.dumps(results) + "\n")


if __name__ == "__main__":
    sys.exit(main())
