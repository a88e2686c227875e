"""An opt-in pytest plugin: pytest-django and pytest-xdist on this app's engine.

Turned on by one line in the pytest configuration, ``addopts = -p
concurrent_test_app.pytest_plugin``; nothing registers it otherwise, so a project that only
installs the package runs exactly as before. This module imports nothing from Django: the
parts that do (:mod:`.controller`, :mod:`.clones`, :mod:`.fixtures`, :mod:`.scheduling`,
:mod:`.recording`) load once the plugin is on and Django is set up.

- The controller (xdist's, or the only process without xdist) makes every cloneable alias's
  template ready and holds it (:mod:`.controller`); it records the session in the history at
  the end (:mod:`.recording`).
- Each worker clones what its tests use, on demand (:mod:`.clones`, through the fixtures of
  :mod:`.fixtures`, which replace pytest-django's).
- ``--longest-first`` hands out classes and modules longest expected first
  (:mod:`.scheduling`); ``--shard K/N`` runs one shard of a longest-first split.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

logger = logging.getLogger(__name__)

PLUGIN = "concurrent_test_app.pytest_plugin"
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class PluginState:
    """What one pytest process of a session knows: whether the plugin is on, and its parts."""

    def __init__(self) -> None:
        self.off_reason: str | None = None
        self.token = ""
        self.templates: Any = None  # controller.SessionTemplates, in the controller
        self.clones: Any = None  # clones.WorkerClones, in a process that runs tests
        self.recorder: Any = None  # recording.SessionRecorder, in the controller
        self.shard: tuple[int, int] | None = None

    @property
    def on(self) -> bool:
        return self.off_reason is None


_STATE = pytest.StashKey[PluginState]()


def state_of(config: pytest.Config) -> PluginState:
    """Return the plugin's state for this pytest process."""
    return config.stash[_STATE]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concurrent_test", "django-concurrent-test")
    group.addoption(
        "--longest-first",
        action="store_true",
        default=False,
        help="xdist: hand out TestCase classes and modules whole, longest expected first "
        "(from the timing history); without history, as --dist loadscope.",
    )
    group.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="Run only shard K of N, split longest-first from the timing history.",
    )


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """Return ``(k, n)`` of a ``--shard K/N`` value; raise ValueError with the fix."""
    if value is None:
        return None
    match = _SHARD.match(value)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(
            f"--shard {value!r} is not K/N with 1 <= K <= N; pass it as --shard 1/4, for example."
        )
    return int(match.group(1)), int(match.group(2))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Refuse a bad option with one sentence and exit status 2, before anything runs."""
    try:
        parse_shard(config.getoption("shard"))
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    if config.getoption("longest_first") and not config.pluginmanager.hasplugin("xdist"):
        print(
            "ERROR: --longest-first schedules pytest-xdist workers; install pytest-xdist "
            '(pip install "django-concurrent-test[pytest]") or drop the option.',
            file=sys.stderr,
        )
        return 2
    return None


def overridden_by(config: pytest.Config) -> Path | None:
    """Return the conftest.py that defines its own ``django_db_setup``, if one does."""
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None) or ""
        if Path(path).name == "conftest.py" and hasattr(plugin, "django_db_setup"):
            return Path(path)
    return None


def _has_pytest_django(config: pytest.Config) -> bool:
    """Return whether pytest-django is registered, by its entry point or by module name."""
    return any(
        getattr(plugin, "__name__", "") == "pytest_django.plugin"
        for plugin in config.pluginmanager.get_plugins()
    )


def _off_reason(config: pytest.Config) -> str | None:
    if not _has_pytest_django(config):
        return 'pytest-django is not installed (pip install "django-concurrent-test[pytest]")'
    from pytest_django.lazy_django import django_settings_is_configured

    if not django_settings_is_configured():
        return "Django settings are not configured (set DJANGO_SETTINGS_MODULE or --ds)"
    if config.getoption("nomigrations", False):
        return "--nomigrations builds the tables from the models, not from a template"
    conftest = overridden_by(config)
    if conftest is not None:
        return f"{conftest} overrides django_db_setup"
    return None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    state = PluginState()
    config.stash[_STATE] = state
    state.off_reason = _off_reason(config)
    state.shard = parse_shard(config.getoption("shard"))
    if not state.on:
        if _is_controller(config):
            print(f"concurrent_test: the plugin is off: {state.off_reason}.", file=sys.stderr)
        return
    from concurrent_test_app.pytest_plugin.recording import SessionRecorder

    if _is_controller(config):
        # A plugin of its own: it sees every test report, the workers' too.
        state.recorder = SessionRecorder(config)
        config.pluginmanager.register(state.recorder, f"{PLUGIN}.recorder")


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def _uses_xdist(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("dsession")


def _set_up_templates(config: pytest.Config) -> None:
    """Make every template ready and held, or end the session with one sentence."""
    from concurrent_test_app.exceptions import ConcurrentTestError
    from concurrent_test_app.pytest_plugin import pinned
    from concurrent_test_app.pytest_plugin.controller import SessionTemplates

    state = state_of(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(message: str) -> None:
        if reporter is not None:
            reporter.write_line(f"concurrent_test: {message}")

    templates = SessionTemplates(say=say, verbosity=config.option.verbose)
    try:
        with pinned.db_blocker(config).unblock():
            templates.setup(force=bool(config.getoption("create_db", False)))
    except ConcurrentTestError as exc:
        pytest.exit(str(exc), returncode=2)
    state.templates = templates
    state.token = templates.token


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = state_of(config)
    if not state.on:
        return
    from concurrent_test_app.pytest_plugin import fixtures

    config.pluginmanager.register(fixtures, f"{PLUGIN}.fixtures")
    if _is_controller(config) and not _uses_xdist(config):
        _set_up_templates(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: Any) -> None:
    del specs
    if state_of(config).on:
        _set_up_templates(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = state_of(node.config)
    if state.on:
        from concurrent_test_app.pytest_plugin.fixtures import TOKEN_KEY

        node.workerinput[TOKEN_KEY] = state.token


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if not config.getoption("longest_first"):
        return None
    from concurrent_test_app.pytest_plugin.scheduling import LongestFirstScheduling

    return LongestFirstScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = state_of(config)
    if state.on and state.shard is not None:
        from concurrent_test_app.pytest_plugin.recording import select_shard

        with _unblocked(config):
            keep = select_shard(items, *state.shard)
        dropped = [item for item in items if item not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item in keep]


def _unblocked(config: pytest.Config) -> Any:
    from concurrent_test_app.pytest_plugin import pinned

    return pinned.db_blocker(config).unblock()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    clones = state_of(item.config).clones
    if clones is not None:
        from concurrent_test_app.pytest_plugin.items import database_use

        with _unblocked(item.config):
            clones.before(database_use(item))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    clones = state_of(item.config).clones
    if clones is not None:
        from concurrent_test_app.pytest_plugin.items import database_use

        clones.after(database_use(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: Any
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    del call
    report = yield
    if state_of(item.config).on:
        from concurrent_test_app.pytest_plugin.items import unittest_id

        # Travels with the report to the controller, which keys the history by it.
        report.concurrent_test_id = unittest_id(item)  # type: ignore[attr-defined]
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = state_of(config)
    if not state.on or not _is_controller(config):
        return
    try:
        if state.recorder is not None:
            with _unblocked(config):
                records = state.templates.records if state.templates is not None else []
                shard = "{}/{}".format(*state.shard) if state.shard else None
                state.recorder.finish(int(exitstatus), records, shard)
    finally:
        if state.templates is not None:
            with _unblocked(config):
                state.templates.teardown()
            state.templates = None
