"""pytest configuration of the sample project: the repository root on sys.path, as manage.py.

The tests are Django TestCases and need no fixture of their own; the plugin named in
pytest.ini replaces pytest-django's database set-up (and stays off, saying so, if a
conftest.py here overrides ``django_db_setup``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
