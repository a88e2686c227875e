"""Shared fixtures: real database servers, and running manage.py in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

SERVERS = {
    "postgresql": {
        "host": "127.0.0.1",
        "port": 5432,
        "url": "postgres://postgres@127.0.0.1:5432/{name}",
        "start": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    },
    "mysql": {
        "host": "127.0.0.1",
        "port": 3306,
        "url": "mysql://root@127.0.0.1:3306/{name}",
        "start": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    },
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(vendor: str) -> dict[str, object]:
    """Return the server's details; fail under CI=true and skip elsewhere when it is down."""
    server = SERVERS[vendor]
    if not _reachable(server["host"], server["port"]):  # type: ignore[arg-type]
        message = (
            f"{vendor} is not reachable on {server['host']}:{server['port']}; "
            f"start it with: {server['start']}"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return server


def database_url(vendor: str, name: str) -> str:
    """Return a DATABASE_URL for ``vendor`` naming database ``name`` (sqlite: a file path)."""
    if vendor == "sqlite":
        return f"sqlite:///{name}"
    server = require_server(vendor)
    return str(server["url"]).format(name=name)


VENDORS = ["sqlite", "postgresql", "mysql"]


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    """Parametrize a test over the three vendors, requiring the server where there is one."""
    if request.param != "sqlite":
        require_server(request.param)
    return str(request.param)


def run_manage(
    project_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``python manage.py ARGS`` in ``project_dir`` and return the completed process."""
    # pytest-django exports tests.settings; the project's own manage.py must choose its settings.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    full_env = {**inherited, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project_dir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def project(tmp_path: Path, vendor: str) -> Iterator[Any]:
    """A copy of the template fixture project on ``vendor``; its databases dropped after."""
    from tests.projects import drop_server_databases, make_project

    made = make_project(tmp_path, vendor)
    try:
        yield made
    finally:
        if vendor != "sqlite":
            drop_server_databases(vendor, made.prefix)
