"""The pinned real projects, and how each is checked out, installed and pointed at a vendor.

Each project is checked out at its pinned commit under ``REAL_SUITES_DIR`` (default
``/work/real_suites/<name>``) with a virtualenv of its own in ``.venv`` there. Nothing of the
project is changed: a generated settings module in ``<checkout>/.real_suites/`` imports the
project's own settings, appends ``concurrent_test_app`` to ``INSTALLED_APPS`` and sets
``DATABASES`` for the vendor, and ``DJANGO_SETTINGS_MODULE`` points at it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import REPO_ROOT, RealSuitesError, checkouts_root

logger = logging.getLogger(__name__)

# "mixed": aliases of several vendors in one run, as a project's own CI may have them.
VENDORS = ("sqlite", "postgresql", "mysql", "mixed")
PG = {"ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1", "PORT": "5432"}
MY = {"ENGINE": "django.db.backends.mysql", "HOST": "127.0.0.1", "PORT": "3306"}
SQLITE = {"ENGINE": "django.db.backends.sqlite3"}

# Where ``prepare`` clones from: a format string of ``repo`` ("owner/name"), ``owner``, ``name``.
GIT_SOURCE_ENV = "REAL_SUITES_GIT_SOURCE"
DEFAULT_GIT_SOURCE = "https://github.com/{repo}.git"
# A folder holding another concurrent_test_app (say an older revision, from git archive) to
# import instead of the editable install: it goes first on PYTHONPATH.
APP_PATH_ENV = "REAL_SUITES_APP_PATH"
# concurrent_test itself, installed editable so that fixes to it take effect at once; tblib, as
# Django's docs advise for --parallel (without it an error's traceback cannot be pickled back).
SELF_INSTALL = ("-e", f"{REPO_ROOT}[postgres,mysql]", "Django>=5.2,<5.3", "tblib")


def pg(name: str, **extra: Any) -> dict[str, Any]:
    """Return a PostgreSQL alias on the local server, as user postgres."""
    return {**PG, "NAME": name, "USER": "postgres", "PASSWORD": "", **extra}


def my(name: str, **extra: Any) -> dict[str, Any]:
    """Return a MariaDB alias on the local server, as user root."""
    return {**MY, "NAME": name, "USER": "root", "PASSWORD": "", **extra}


@dataclass(frozen=True)
class Project:
    """One real project: where its code is, how to install it and how to run its suite."""

    name: str
    repo: str
    commit: str
    traits: tuple[str, ...]
    # The wrapper's first statement: what brings the project's settings in.
    settings_import: str
    # Per vendor: DATABASES, or None to keep what the project's settings (and env) give.
    databases: Mapping[str, Mapping[str, Any] | None]
    install: tuple[tuple[str, ...], ...]
    workdir: str = "."
    manage: tuple[str, ...] = ("manage.py",)
    labels: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    vendor_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    note: str = ""

    @property
    def vendors(self) -> tuple[str, ...]:
        return tuple(vendor for vendor in VENDORS if vendor in self.databases)

    @property
    def checkout(self) -> Path:
        return checkouts_root() / self.name

    @property
    def python(self) -> Path:
        return self.checkout / ".venv" / "bin" / "python"

    @property
    def cwd(self) -> Path:
        return self.checkout / self.workdir

    @property
    def wrapper_dir(self) -> Path:
        return self.checkout / ".real_suites"

    def settings_module(self, vendor: str) -> str:
        """Return the dotted name of the generated settings module for ``vendor``."""
        return f"real_suites_settings_{vendor}"

    def missing(self) -> str | None:
        """Return why this project cannot run yet (with what to do), or None when it can."""
        head = self.checkout / ".git"
        if not head.exists():
            return (
                f"no checkout of {self.repo} at {self.checkout}; run the fetch step first: "
                f"python -m bench.real_suites prepare --suite {self.name} (it clones from "
                f"{GIT_SOURCE_ENV}, default {DEFAULT_GIT_SOURCE.format(repo=self.repo)}, so "
                f"set it to a local mirror when offline, e.g. "
                f"'/work/.mirror/{{owner}}+{{name}}/repo')"
            )
        commit = _git(self.checkout, "rev-parse", "HEAD")
        if commit != self.commit:
            return (
                f"{self.checkout} is at {commit[:12]}, not the pinned {self.commit[:12]}; run "
                f"python -m bench.real_suites prepare --suite {self.name}"
            )
        if not self.python.exists():
            return (
                f"no virtualenv at {self.python.parent.parent}; run "
                f"python -m bench.real_suites prepare --suite {self.name}"
            )
        return None

    def timings_file(self, vendor: str) -> Path:
        """Return the timings file concurrent_test keeps for this project on ``vendor``."""
        return self.wrapper_dir / f"timings-{vendor}.json"

    def write_wrapper(self, vendor: str) -> str:
        """Write the settings module for ``vendor`` and return its dotted name."""
        self.wrapper_dir.mkdir(parents=True, exist_ok=True)
        databases = self.databases[vendor]
        lines = [
            f'"""Settings of {self.name} on {vendor} for bench.real_suites (generated)."""',
            "",
            self.settings_import,
            "",
            'INSTALLED_APPS = [*INSTALLED_APPS, "concurrent_test_app"]  # noqa: F405',
        ]
        if databases is not None:
            lines.append(f"DATABASES = {dict(databases)!r}")
        # As on CI, where the real database (and its history) is gone after each run, timings
        # carry from one run to the next in a file: the warm run orders and splits by the cold one.
        lines.append(f"TEST_TIMINGS_FILE = {str(self.timings_file(vendor))!r}")
        module = self.settings_module(vendor)
        (self.wrapper_dir / f"{module}.py").write_text("\n".join(lines) + "\n")
        return module

    def environ(self, vendor: str) -> dict[str, str]:
        """Return the environment a command of this project on ``vendor`` runs in."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("VIRTUAL")}
        env.update(self.env)
        env.update(self.vendor_env.get(vendor, {}))
        paths = [str(self.wrapper_dir), str(Path(__file__).resolve().parent)]
        if os.environ.get(APP_PATH_ENV):
            paths.insert(0, os.environ[APP_PATH_ENV])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["DJANGO_SETTINGS_MODULE"] = self.settings_module(vendor)
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def command(self, *args: str) -> list[str]:
        """Return the command line that runs ``manage.py`` (or django-admin) with ``args``."""
        return [str(self.python), *self.manage, *args]


def _git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RealSuitesError(f"git {' '.join(args)} in {cwd} failed: {completed.stderr.strip()}")
    return completed.stdout.strip()


def prepare(project: Project) -> None:
    """Check out ``project`` at its pinned commit and install it into its own virtualenv."""
    checkout = project.checkout
    if not (checkout / ".git").exists():
        owner, name = project.repo.split("/")
        source = os.environ.get(GIT_SOURCE_ENV, DEFAULT_GIT_SOURCE)
        source = source.format(repo=project.repo, owner=owner, name=name)
        checkout.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Cloning %s from %s into %s", project.repo, source, checkout)
        _git(checkout.parent, "clone", "--quiet", source, str(checkout))
    if _git(checkout, "rev-parse", "HEAD") != project.commit:
        _git(checkout, "checkout", "--quiet", "--detach", project.commit)
    if not project.python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(checkout / ".venv")], check=True)
    pip = [str(project.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for args in (*project.install, SELF_INSTALL):
        logger.info("pip install %s", " ".join(args))
        completed = subprocess.run([*pip, *args], cwd=checkout, check=False)
        if completed.returncode != 0:
            raise RealSuitesError(
                f"pip install {' '.join(args)} failed for {project.name} in {checkout}"
            )


# Wagtail's labels: apps whose tests take a few minutes serially.
WAGTAIL_LABELS = ("wagtail.sites", "wagtail.locales", "wagtail.search", "wagtail.contrib.redirects")

PROJECTS: tuple[Project, ...] = (
    Project(
        name="healthchecks",
        repo="healthchecks/healthchecks",
        # The last commit on Django 5.2 (the next one moved to Django 6.0).
        commit="ea43b2ecb7ab2254a482f2fc70c5fc2c196124f2",
        traits=("hundreds of migrations", "SQLite test database in memory (TEST NAME unset)"),
        settings_import="from hc.settings import *  # noqa: F403",
        # Its own settings choose the vendor from DB, as its CI does; on SQLite the real database
        # is a file and, with TEST NAME unset, Django's test database is in memory.
        databases={"sqlite": None, "postgresql": None, "mysql": None},
        install=(("-r", "requirements.txt", "apprise", "minio==7.2.20"),),
        env={"SECRET_KEY": "dummy-key"},
        vendor_env={
            "postgresql": {"DB": "postgres", "DB_HOST": "127.0.0.1", "DB_USER": "postgres"},
            "mysql": {"DB": "mariadb", "DB_HOST": "127.0.0.1", "DB_USER": "root"},
        },
    ),
    Project(
        name="django-simple-history",
        repo="jazzband/django-simple-history",
        commit="8bb61757cb9563c2fd0c17e1fa22c53013c311e3",
        traits=("two database aliases", "SQLite ':memory:' (NAME unset)", "no migrations"),
        # runtests.py configures settings by hand; its DEFAULT_SETTINGS are the settings.
        settings_import=(
            "from runtests import DEFAULT_SETTINGS as _DEFAULTS\n\n"
            "globals().update(_DEFAULTS)\n"
            "INSTALLED_APPS = _DEFAULTS['INSTALLED_APPS']"
        ),
        databases={
            "sqlite": {"default": dict(SQLITE), "other": dict(SQLITE)},
            "postgresql": {"default": pg("sh_default"), "other": pg("sh_other")},
            "mysql": {"default": my("sh_default"), "other": my("sh_other")},
        },
        install=(("-e", ".", "-r", "requirements/test.txt"),),
        manage=("-m", "django"),
        labels=("simple_history.tests", "simple_history.registry_tests"),
        note="runtests.py runs its two labels in two runs; here both run in one, under a "
        "settings module instead of settings.configure(), where test_date_indexing_options "
        "errors on delattr of a setting (a Settings object, unlike configure()'s holder, "
        "refuses to delete a name it never had): the serial verdict, the same under every runner.",
    ),
    Project(
        name="django-reversion",
        repo="etianen/django-reversion",
        commit="fa88408cada99d7f11ecf70c22832bbcc4e37ea8",
        traits=("three database aliases",),
        settings_import="from test_project.settings import *  # noqa: F403",
        # Its CI runs the default alias on SQLite beside "postgres" and "mysql" aliases at once
        # ("mixed" here); on each single vendor all three aliases are of that vendor.
        databases={
            "sqlite": {
                "default": {**SQLITE, "NAME": "db.sqlite3"},
                "postgres": {**SQLITE, "NAME": "db-postgres.sqlite3"},
                "mysql": {**SQLITE, "NAME": "db-mysql.sqlite3"},
            },
            "postgresql": {
                "default": pg("reversion_default"),
                "postgres": pg("reversion_pg"),
                "mysql": pg("reversion_my"),
            },
            "mysql": {
                "default": my("reversion_default"),
                "postgres": my("reversion_pg"),
                "mysql": my("reversion_my"),
            },
            "mixed": {
                "default": {**SQLITE, "NAME": "db.sqlite3"},
                "postgres": pg("reversion_pg"),
                "mysql": my("reversion_my"),
            },
        },
        install=(("-e", "."),),
        workdir="tests",
        note="vendor 'mixed' is the project's own CI set: default on SQLite, the others on "
        "PostgreSQL and MariaDB.",
    ),
    Project(
        name="wagtail",
        repo="wagtail/wagtail",
        commit="ccbfe36634e10b0d7aa23ea3aa6eeed90a3e9948",  # v7.0.9, the LTS line on Django 5.2
        traits=(
            "hundreds of migrations",
            "SQLite NAME ':memory:' with TEST NAME ''",
            "django.contrib.postgres (installed on PostgreSQL)",
        ),
        settings_import="from wagtail.test.settings import *  # noqa: F403",
        # Its own settings choose the vendor from DATABASE_ENGINE, as its CI does, and install
        # django.contrib.postgres when that is PostgreSQL.
        databases={"sqlite": None, "postgresql": None, "mysql": None},
        install=(
            (
                "-e",
                ".",
                "python-dateutil>=2.7",
                "Jinja2>=3.0,<3.2",
                "boto3>=1.28,<2",
                "freezegun>=0.3.8",
                "azure-mgmt-cdn>=12.0,<13.0",
                "azure-mgmt-frontdoor>=1.0,<1.1",
                "django-pattern-library>=0.7",
                "polib>=1.1,<2.0",
                "factory-boy>=3.2",
            ),
        ),
        # runtests.py forces its own DJANGO_SETTINGS_MODULE, so django-admin runs the suite.
        manage=("-m", "django"),
        labels=WAGTAIL_LABELS,
        vendor_env={
            "postgresql": {
                "DATABASE_ENGINE": "django.db.backends.postgresql",
                "DATABASE_HOST": "127.0.0.1",
                "DATABASE_USER": "postgres",
            },
            "mysql": {
                "DATABASE_ENGINE": "django.db.backends.mysql",
                "DATABASE_HOST": "127.0.0.1",
                "DATABASE_USER": "root",
            },
        },
        note="A subset of its apps (the whole suite of about 10,000 tests takes well over an "
        "hour here): every migration still runs, so set-up weighs as in the whole suite.",
    ),
)


def by_name(name: str) -> Project:
    """Return the project called ``name``."""
    for project in PROJECTS:
        if project.name == name:
            return project
    names = ", ".join(project.name for project in PROJECTS)
    raise RealSuitesError(f"--suite {name!r} is no known project; choose one of {names}.")
