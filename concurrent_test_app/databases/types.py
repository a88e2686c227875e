"""The types the databases package passes around, each ``Any`` in them with its reason.

Kept apart, with no imports of this package, so that every module here (naming, the cloners,
set-up) can use them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# How set-up tells the user what it did or waits for: the runner's log or the command's
# writer, passed down from the top. It honours --verbosity itself.
Say = Callable[[str], None]

# Django's own type for a settings dict: its values are strings, numbers and nested dicts
# (OPTIONS, TEST), whatever the backend takes.
SettingsDict = dict[str, Any]

# A row as the database driver returns it: the values' types are the driver's.
Row = tuple[Any, ...]

# A vendor's lock session, whose type only the vendor knows: a server cursor (PostgreSQL,
# MySQL) or SQLite's lock files. The base classes pass it from one hook to the next untouched.
LockSession = Any
