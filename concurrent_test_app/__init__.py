"""Run a Django test suite in parallel worker processes with the verdict of the serial runner."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["no_split", "timeout"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that importing the package never touches Django.
    if name == "timeout":
        from concurrent_test_app.timeouts import timeout

        return timeout
    if name == "no_split":
        from concurrent_test_app.suite import no_split

        return no_split
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
