"""A module that fails to import: as a test label it must become an import-error test."""

from __future__ import annotations

import mishaps_no_such_package  # noqa: F401
