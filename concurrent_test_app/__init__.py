"""Run a Django test suite in parallel worker processes with the verdict of the serial runner."""

from __future__ import annotations

__version__ = "0.1.0"
