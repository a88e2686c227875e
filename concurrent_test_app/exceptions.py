"""Errors raised by the app; each message names the source of the bad value and the fix."""

from __future__ import annotations

from django.core.management.base import CommandError


class ConcurrentTestError(Exception):
    """Base class of every error this app raises on purpose."""


class ConfigurationError(ConcurrentTestError, CommandError):
    """A flag, setting or environment variable holds a value the app cannot use.

    It is a CommandError with return code 2, so that both ``concurrent_test`` and Django's own
    ``test`` command print the one-sentence message without a traceback and exit with status 2.
    """

    def __init__(self, message: str) -> None:
        CommandError.__init__(self, message, returncode=2)


class DatabaseSetupError(ConfigurationError):
    """A test database could not be created, cloned or reached."""


class DatabaseUnreachableError(DatabaseSetupError):
    """A database exists but cannot be connected to or read (never a reason to rebuild it)."""


class TemplateBuildError(DatabaseSetupError):
    """A template's build finished without the schema that its migrations promise."""


class TemplateInUseError(DatabaseSetupError):
    """Runs still held a template that a build was to replace or drop, past the wait limit."""


class CloneUnavailableError(ConcurrentTestError):
    """A worker's fresh clone could not be made in the middle of a run.

    Not a configuration error: the run goes on without that worker, and the tests that no
    worker is left to run become errors naming why (see ``Supervision._lose_slot`` in
    ``execution/supervision.py``).
    """


class UnsafeDatabaseNameError(ConcurrentTestError):
    """The app was asked to create, clone or drop a database whose name it did not derive."""


class TemplateBusyError(ConcurrentTestError):
    """A vendor's clone found its template in use after all (raised by ``_clone`` hooks)."""


class WorkerStartError(ConcurrentTestError):
    """A worker could not set itself up (its database, or discovering the suite)."""

    def __init__(self, slot: int, message: str) -> None:
        super().__init__(f"Worker {slot} could not start: {message}")
        self.slot = slot


class SuiteMismatchError(ConcurrentTestError):
    """A spawned worker discovered another suite than the parent's."""
