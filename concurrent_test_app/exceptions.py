"""Errors raised by the app; each message names the source of the bad value and the fix."""

from __future__ import annotations


class ConcurrentTestError(Exception):
    """Base class of every error this app raises on purpose."""


class ConfigurationError(ConcurrentTestError):
    """A flag, setting or environment variable holds a value the app cannot use (exit status 2)."""


class DatabaseSetupError(ConcurrentTestError):
    """A test database could not be created, cloned or reached (exit status 2)."""


class UnsafeDatabaseName(ConcurrentTestError):
    """The app was asked to create, clone or drop a database whose name it did not derive."""


class WorkerCrashed(ConcurrentTestError):
    """A worker process died while it held a work unit."""
