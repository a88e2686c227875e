"""The fixtures that replace pytest-django's database set-up while the plugin is on.

This module is registered as a plugin of its own at session start, after every plugin the
command line and the entry points loaded, so its fixtures come after pytest-django's and win
whatever order the plugins loaded in (a project's conftest.py that overrides them is seen
before, and the plugin then stays off: see :func:`~concurrent_test_app.pytest_plugin.
overridden_by`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from concurrent_test_app.pytest_plugin import pinned, state_of
from concurrent_test_app.pytest_plugin.clones import WorkerClones, slot_of

logger = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix() -> None:
    """Leave the names alone: each worker's clone is named by its slot, not ``_gwN``."""


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """Clone the templates of the aliases this worker's tests use; drop the clones after."""
    del django_test_environment, django_db_modify_db_settings  # needed first, not used
    config = request.config
    state = state_of(config)
    workerinput = getattr(config, "workerinput", {})
    aliases, serialized = pinned.databases_for_setup(request.session.items)
    clones = WorkerClones(
        slot=slot_of(workerinput.get("workerid")),
        token=workerinput.get(TOKEN_KEY) or state.token,
        keepdb=django_db_keepdb and not django_db_createdb,
        verbosity=config.option.verbose,
    )
    state.clones = clones
    blocker = pinned.db_blocker(config)
    with blocker.unblock():
        clones.setup(aliases, serialized)
    try:
        yield
    finally:
        state.clones = None
        with blocker.unblock():
            clones.teardown()


# The key under which the controller hands each worker the session's clone token.
TOKEN_KEY = "concurrent_test_token"
