"""Settings of the fidelity fixture project: two database aliases read from the environment."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.fixture_suites.base_settings import *  # the settings every fixture shares

# Without DATABASE_URL, SQLite files (and the app's templates beside them) go to the system's
# temporary folder, never into the repository.
SCRATCH = Path(tempfile.gettempdir()) / "fidelity_fixture"
SCRATCH.mkdir(exist_ok=True)

ROOT_URLCONF = "fidelity_project.urls"

# No contenttypes: a TransactionTestCase flush re-creates content types through post_migrate,
# which then clash with the rows serialized_rollback restores (a Django limitation).
INSTALLED_APPS = [
    "concurrent_test_app",
    "library",
    "ledger",
]

# LiveServerTestCase serves static files under STATIC_URL; it must be set.
STATIC_URL = "/static/"

DATABASES = {
    "default": default_database(SCRATCH / "fidelity_main.sqlite3"),
    "other": env.db_url(
        "OTHER_DATABASE_URL", default=f"sqlite:///{SCRATCH / 'fidelity_other.sqlite3'}"
    ),
}

# Read by the override_settings tests; they check that it comes back after each override.
FIDELITY_FLAG = "base"
