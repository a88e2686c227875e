"""Keep pytest out of the fixture project: its tests run only through manage.py."""

from __future__ import annotations

collect_ignore_glob = ["*"]
