"""Compile the code a measured command imports, as ``pip install`` does for a package.

A package installed from PyPI arrives with its bytecode compiled, and a checkout keeps a
``__pycache__`` beside its modules. A machine that sets ``PYTHONDONTWRITEBYTECODE`` (this
project's CI image does, as many container images do) writes none, so every command would
compile the app's modules from source again: about 0.1 s of CPU per command that an installed
app does not pay. The benchmarks compile first, for every runner alike.
"""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_tree(path: Path) -> None:
    """Write the bytecode of every module below ``path`` that lacks it or is out of date."""
    if path.is_dir():
        compileall.compile_dir(str(path), quiet=2, workers=1)
