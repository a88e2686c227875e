#!/usr/bin/env python
"""Run management commands for the split fixture project."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The repository root, so that concurrent_test_app imports without being installed.
REPO_ROOT = HERE.parent.parent.parent
# The fidelity suite's recording serial runner, the reference the split verdict is held to.
FIDELITY = HERE.parent / "fidelity"

if __name__ == "__main__":
    sys.path.insert(1, str(REPO_ROOT))
    sys.path.insert(2, str(FIDELITY))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "split_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
