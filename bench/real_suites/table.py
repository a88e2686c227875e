"""Write the results: ``real_suites.json`` (everything) and ``real_suites.md`` (the tables)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .runs import OUTCOMES, RUNNER_TITLES

logger = logging.getLogger(__name__)

# Exceptions named in the Markdown of one suite and vendor; the JSON names every one.
MAX_NAMED = 50

_SHORT = {
    "passed": "pass",
    "failed": "fail",
    "error": "error",
    "skipped": "skip",
    "expected_failure": "xfail",
    "unexpected_success": "xpass",
    "not_run": "not run",
}


def load(path: Path) -> dict[str, Any]:
    """Return the results written before, or an empty set of results."""
    if path.exists():
        return json.loads(path.read_text())
    return {"entries": []}


def merge(results: dict[str, Any], entry: dict[str, Any]) -> None:
    """Put ``entry`` in place of the earlier entry of the same suite and vendor."""
    key = (entry["suite"], entry["vendor"])
    kept = [e for e in results["entries"] if (e["suite"], e["vendor"]) != key]
    results["entries"] = sorted([*kept, entry], key=lambda e: (e["order"], e["vendor_order"]))


def write(results: dict[str, Any], json_path: Path, md_path: Path) -> None:
    """Write the JSON results and the Markdown tables made from them."""
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    md_path.write_text(markdown(results))


def _seconds(entry: dict[str, Any], runner: str) -> str:
    run = entry["runs"].get(runner)
    return f"{run['wall_seconds']:.1f}" if run else "–"


def _equal(entry: dict[str, Any], runner: str) -> str:
    run = entry["runs"].get(runner)
    if not run:
        return "–"
    if run["problem"]:
        return "no report"
    return f"{run['equal']}/{run['total']}"


def _ratio(entry: dict[str, Any]) -> str:
    ratio = entry.get("warm_ratio")
    return f"{ratio:.2f}x" if ratio is not None else "–"


def _migrations(entry: dict[str, Any], runner: str) -> str:
    run = entry["runs"].get(runner)
    if not run or not run["templates"]:
        return "–"
    actions = {template["action"] for template in run["templates"]}
    return f"{sum(t['applied'] for t in run['templates'])} ({'/'.join(sorted(actions))})"


def markdown(results: dict[str, Any]) -> str:
    """Return the Markdown tables of ``results``."""
    lines = [
        "# Real suites: Django's runners and concurrent_test, test id by test id",
        "",
        f"Measured {results.get('generated_at', '?')} on {results.get('machine', '?')}, "
        f"{results.get('workers', 2)} workers. Reproduce: `{results.get('command', '')}` "
        "(after `python -m bench.real_suites prepare`). Each row is one harness run of every "
        'runner side by side; wall seconds are of the whole command. "ids equal" counts the '
        "test ids (including failing subtests and class-level errors) whose outcome is the "
        "serial run's." + (f" {results['note']}" if results.get("note") else ""),
        "",
        "| Suite | Vendor | Tests | Serial verdict | ids equal: --parallel 2 | cold | warm "
        "| Serial s | --parallel 2 s | cold s | warm s | warm / --parallel 2 "
        "| Migrations cold / warm | Exceptions |",
        "| --- | --- | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: "
        "| --- | ---: |",
    ]
    for entry in results["entries"]:
        serial = entry["runs"].get("serial", {})
        counts = serial.get("counts", {})
        verdict = ", ".join(f"{counts[o]} {_SHORT[o]}" for o in OUTCOMES if counts.get(o))
        lines.append(
            f"| {entry['suite']} | {entry['vendor']} | {serial.get('tests_run', '?')} "
            f"| {verdict or serial.get('problem', '?')} "
            f"| {_equal(entry, 'django_parallel')} | {_equal(entry, 'concurrent_cold')} "
            f"| {_equal(entry, 'concurrent_warm')} | {_seconds(entry, 'serial')} "
            f"| {_seconds(entry, 'django_parallel')} | {_seconds(entry, 'concurrent_cold')} "
            f"| {_seconds(entry, 'concurrent_warm')} | {_ratio(entry)} "
            f"| {_migrations(entry, 'concurrent_cold')} / {_migrations(entry, 'concurrent_warm')} "
            f"| {len(entry['exceptions'])} |"
        )
    for entry in results["entries"]:
        lines += ["", *_section(entry)]
    return "\n".join(lines) + "\n"


def _section(entry: dict[str, Any]) -> list[str]:
    lines = [
        f"## {entry['suite']} on {entry['vendor']}",
        "",
        f"[{entry['repo']}](https://github.com/{entry['repo']}) at `{entry['commit']}`; "
        f"{entry['migration_files']} migration files in the repository; "
        f"traits: {', '.join(entry['traits'])}; labels: "
        f"{' '.join(entry['labels']) or '(all)'}; aliases: {_aliases(entry)}."
        + (f" {entry['note']}" if entry.get("note") else ""),
        "",
        "| Runner | Exit | Ran | "
        + " | ".join(_SHORT[o] for o in OUTCOMES)
        + " | ids equal to serial | Wall s | Templates |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in OUTCOMES) + " | --- | ---: | --- |",
    ]
    for runner, title in RUNNER_TITLES.items():
        run = entry["runs"].get(runner)
        if not run:
            continue
        counts = run["counts"]
        templates = "; ".join(
            f"{t['alias']}: {t['action']} in {t['seconds']:.1f}s, {t['applied']} migrations"
            for t in run["templates"]
        )
        lines.append(
            f"| {title} | {run['exit_status']} | {run['tests_run'] or '–'} | "
            + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES)
            + f" | {_equal(entry, runner)} | {run['wall_seconds']:.1f} | {templates or '–'} |"
        )
    problems = [
        f"- {RUNNER_TITLES[r]}: {run['problem']}"
        for r, run in entry["runs"].items()
        if run["problem"]
    ]
    if problems:
        lines += ["", "Problems:", "", *problems]
    if entry["exceptions"]:
        lines += ["", "Test ids whose outcome is not the serial one:", ""]
        for item in entry["exceptions"][:MAX_NAMED]:
            lines.append(
                f"- {RUNNER_TITLES[item['runner']]}: `{item['test_id']}`: serial "
                f"{item['serial']}, here {item['outcome']} ({item['reason']})"
            )
        if len(entry["exceptions"]) > MAX_NAMED:
            more = len(entry["exceptions"]) - MAX_NAMED
            lines.append(f"- ... and {more} more, every one named in real_suites.json")
    elif problems:
        lines += ["", "No test id differs from serial under the runners that wrote a report."]
    else:
        lines += ["", "Every test id has the serial outcome under every runner."]
    return lines


def _aliases(entry: dict[str, Any]) -> str:
    parts = []
    for alias, db in entry.get("databases", {}).items():
        engine = db["ENGINE"].rsplit(".", 1)[-1]
        test_name = db.get("TEST_NAME")
        parts.append(f"{alias} ({engine} {db['NAME'] or '(no NAME)'}, TEST NAME {test_name!r})")
    return ", ".join(parts)
