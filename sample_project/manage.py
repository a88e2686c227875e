#!/usr/bin/env python
"""Run Django's command-line utility for the sample project."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The repository root holds `concurrent_test_app`; putting it on the path lets the demo run from a
# checkout without installing the package first.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))


def main() -> None:
    """Run the management command named on the command line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
