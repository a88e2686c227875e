"""The package's shape: import contracts that fail when broken, no repeated blocks, small parts.

``make lint`` runs import-linter (the contracts in pyproject.toml) and pylint's duplicate-code
check across modules; these tests show the contracts can fail, and look inside each module for
what pylint's check does not (it compares files with each other only).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "concurrent_test_app"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# A repeated block: this many identical lines, blank lines, comments and imports left out.
BLOCK_LINES = 6
MODULE_LINES = 420  # "no module over ~400 lines"
FUNCTION_LINES = 60
# Argument tables: one long, flat list of options, read as a table.
ARGUMENT_TABLES = {"add_arguments"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "worker/main.py",
            "from concurrent_test_app.runner import ConcurrentTestRunner",
            "The worker imports neither",
        ),
        (
            "databases/cloning/mysql.py",
            "from concurrent_test_app.databases.cloning import sqlite",
            "The vendors' cloners never import each other",
        ),
        (
            "admin.py",
            "from concurrent_test_app.execution import pool",
            "Models and admin never import",
        ),
        (
            "reports/summary.py",
            "from concurrent_test_app import runner",
            "Nothing imports the runner but the commands",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    shutil.copytree(PACKAGE, copy / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / PACKAGE.name / module
    # Even inside a function an import statement counts.
    target.write_text(target.read_text() + f"\n\ndef _forbidden() -> None:\n    {line}  # noqa\n")
    done = _lint_imports(copy)
    assert done.returncode != 0, done.stdout
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """Return (line number, text) of lines that count: no blanks, comments or imports."""
    lines = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        text = " ".join(raw.split())
        if not text or text.startswith("#") or text.startswith(("import ", "from ")):
            continue
        if text in {")", "]", "}", "(", "[", "{", "),", "],", "},"}:
            continue
        lines.append((number, text))
    return lines


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_block_repeats_inside_a_module(path: Path) -> None:
    lines = _code_lines(path)
    seen: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for start in range(len(lines) - BLOCK_LINES + 1):
        window = tuple(text for _, text in lines[start : start + BLOCK_LINES])
        seen[window].append(lines[start][0])
    repeated = {block: at for block, at in seen.items() if len(at) > 1}
    # Overlapping windows of one repeat would only repeat the message: show the first.
    assert not repeated, next(
        f"lines {at} repeat {BLOCK_LINES} lines: {block[0]!r} ..." for block, at in repeated.items()
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MODULE_LINES, f"{len(text.splitlines())} lines"
    long = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > FUNCTION_LINES and node.name not in ARGUMENT_TABLES:
                long.append(f"{node.name} ({size} lines, line {node.lineno})")
    assert not long, long
