"""The settings reader: defaults, environment overrides and one-sentence errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from concurrent_test_app import conf
from concurrent_test_app.conf import app_settings
from concurrent_test_app.exceptions import ConfigurationError


def one_sentence(message: str) -> bool:
    """Return whether ``message`` is a single sentence ending in a full stop."""
    return message.endswith(".") and ". " not in message and "\n" not in message


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DJANGO_TEST_"):
            monkeypatch.delenv(name)


def test_timeout_defaults_follow_the_main_timeout() -> None:
    assert app_settings.timeout_per_test == 30.0
    assert app_settings.main_timeout == 3600.0
    assert app_settings.timeout_per_worker == 3600.0
    assert app_settings.timeout_global == 7200.0


def test_main_timeout_moves_worker_and_global_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_TIMEOUT", "100")
    assert app_settings.timeout_per_worker == 100.0
    assert app_settings.timeout_global == 200.0
    monkeypatch.setenv("DJANGO_TEST_TIMEOUT_GLOBAL", "150.5")
    assert app_settings.timeout_global == 150.5


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("DJANGO_TEST_TIMEOUT_PER_TEST", "soon", "is not a number of seconds"),
        ("DJANGO_TEST_TIMEOUT_PER_TEST", "-1", "is out of range"),
        ("DJANGO_TEST_TIMEOUT_GLOBAL", "nan", "is out of range"),
        ("DJANGO_TEST_MIN_WORKERS", "0", "1 or more"),
        ("DJANGO_TEST_MAX_WORKERS", "2.5", "is not a whole number"),
        ("DJANGO_TEST_WORKER_MAX_MEMORY_MB", "lots", "is not a number of megabytes"),
        ("DJANGO_TEST_MEMORY_PER_WORKER_MB", "0", "above 0"),
        ("DJANGO_TEST_MEMORY_FLOOR_MB", "-5", "0 or more"),
        ("DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR", "0", "above 0"),
        ("DJANGO_TEST_ADAPTIVE_TIMEOUT_MULTIPLE", "0.5", "set it to 1 or more"),
        ("DJANGO_TEST_MAX_WORKER_RESTARTS", "-1", "0 or more"),
    ],
)
def test_bad_numbers_raise_one_sentence_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, fragment: str
) -> None:
    monkeypatch.setenv(name, raw)
    prop = {
        "DJANGO_TEST_TIMEOUT_PER_TEST": "timeout_per_test",
        "DJANGO_TEST_TIMEOUT_GLOBAL": "timeout_global",
        "DJANGO_TEST_MIN_WORKERS": "min_workers",
        "DJANGO_TEST_MAX_WORKERS": "max_workers",
        "DJANGO_TEST_WORKER_MAX_MEMORY_MB": "worker_max_memory_mb",
        "DJANGO_TEST_MEMORY_PER_WORKER_MB": "memory_per_worker_mb",
        "DJANGO_TEST_MEMORY_FLOOR_MB": "memory_floor_mb",
        "DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR": "adaptive_timeout_floor",
        "DJANGO_TEST_ADAPTIVE_TIMEOUT_MULTIPLE": "adaptive_timeout_multiple",
        "DJANGO_TEST_MAX_WORKER_RESTARTS": "max_worker_restarts",
    }[name]
    with pytest.raises(ConfigurationError) as caught:
        getattr(app_settings, prop)
    message = str(caught.value)
    assert f"{name}={raw!r}" in message
    assert fragment in message
    assert one_sentence(message), message


def test_empty_variable_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "  ")
    assert app_settings.max_workers == 16


def test_worker_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    app_settings.check_worker_bounds()
    monkeypatch.setenv("DJANGO_TEST_MIN_WORKERS", "4")
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "4")
    app_settings.check_worker_bounds()
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "3")
    with pytest.raises(ConfigurationError) as caught:
        app_settings.check_worker_bounds()
    message = str(caught.value)
    assert message == (
        "DJANGO_TEST_MIN_WORKERS=4 is above DJANGO_TEST_MAX_WORKERS=3; "
        "lower DJANGO_TEST_MIN_WORKERS or raise DJANGO_TEST_MAX_WORKERS."
    )


def test_restart_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    assert app_settings.max_worker_restarts is None
    assert app_settings.restart_cap(3) == 12
    assert app_settings.restart_cap(0) == 4
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKER_RESTARTS", "0")
    assert app_settings.max_worker_restarts == 0
    assert app_settings.restart_cap(3) == 0


def test_memory_and_adaptive_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert app_settings.memory_floor_mb == 256.0
    assert app_settings.memory_per_worker_mb == 512.0
    assert app_settings.worker_max_memory_mb is None
    assert app_settings.adaptive_timeout_floor == 5.0
    assert app_settings.adaptive_timeout_multiple == 10.0
    monkeypatch.setenv("DJANGO_TEST_MEMORY_FLOOR_MB", "0")
    monkeypatch.setenv("DJANGO_TEST_WORKER_MAX_MEMORY_MB", "800")
    monkeypatch.setenv("DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR", "2")
    monkeypatch.setenv("DJANGO_TEST_ADAPTIVE_TIMEOUT_MULTIPLE", "1")
    assert app_settings.memory_floor_mb == 0.0
    assert app_settings.worker_max_memory_mb == 800.0
    assert app_settings.adaptive_timeout_floor == 2.0
    assert app_settings.adaptive_timeout_multiple == 1.0


def test_project_name(settings: Any) -> None:
    settings.PROJECT_NAME = "shop"
    assert app_settings.project_name == "shop"
    settings.PROJECT_NAME = ""
    assert app_settings.project_name is None
    settings.PROJECT_NAME = 7
    with pytest.raises(ConfigurationError, match=r"^settings\.PROJECT_NAME is 7; "):
        _ = app_settings.project_name


def test_logging(settings: Any) -> None:
    assert app_settings.logging == {"format": "keyvalue", "file": None}
    settings.CONCURRENT_TEST_LOGGING = "json"
    assert app_settings.logging == {"format": "json", "file": None}
    settings.CONCURRENT_TEST_LOGGING = {"format": "xml"}
    with pytest.raises(ConfigurationError) as caught:
        _ = app_settings.logging
    assert "CONCURRENT_TEST_LOGGING['format'] is 'xml'" in str(caught.value)
    assert one_sentence(str(caught.value))
    settings.CONCURRENT_TEST_LOGGING = ["json"]
    with pytest.raises(ConfigurationError, match="must be a dict"):
        _ = app_settings.logging


def test_templates_to_keep(settings: Any) -> None:
    assert app_settings.templates_to_keep == 3
    settings.CONCURRENT_TEST_TEMPLATES_TO_KEEP = 0
    assert app_settings.templates_to_keep == 0
    settings.CONCURRENT_TEST_TEMPLATES_TO_KEEP = -1
    with pytest.raises(ConfigurationError, match="CONCURRENT_TEST_TEMPLATES_TO_KEEP is -1"):
        _ = app_settings.templates_to_keep


def test_ready_clones(settings: Any) -> None:
    assert app_settings.ready_clones is True
    settings.CONCURRENT_TEST_READY_CLONES = False
    assert app_settings.ready_clones is False
    settings.CONCURRENT_TEST_READY_CLONES = "no"
    with pytest.raises(ConfigurationError, match="CONCURRENT_TEST_READY_CLONES is 'no'") as caught:
        _ = app_settings.ready_clones
    assert one_sentence(str(caught.value))


def test_timings_file(settings: Any, tmp_path: Path) -> None:
    assert app_settings.timings_file is None
    settings.TEST_TIMINGS_FILE = str(tmp_path / "timings.json")
    assert app_settings.timings_file == tmp_path / "timings.json"


def test_validate_reads_everything(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    app_settings.validate()
    monkeypatch.setenv("DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR", "x")
    with pytest.raises(ConfigurationError, match="DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR='x'"):
        app_settings.validate()
    monkeypatch.delenv("DJANGO_TEST_ADAPTIVE_TIMEOUT_FLOOR")
    monkeypatch.setenv("DJANGO_TEST_MIN_WORKERS", "20")
    with pytest.raises(ConfigurationError, match="DJANGO_TEST_MIN_WORKERS=20 is above"):
        app_settings.validate()
    monkeypatch.delenv("DJANGO_TEST_MIN_WORKERS")
    settings.CONCURRENT_TEST_TEMPLATES_TO_KEEP = 1.5
    with pytest.raises(ConfigurationError, match="CONCURRENT_TEST_TEMPLATES_TO_KEEP is 1.5"):
        app_settings.validate()


def test_every_variable_and_setting_is_listed() -> None:
    source = Path(conf.__file__).read_text()
    variables = set(re.findall(r'"(DJANGO_TEST_[A-Z_]+)"', source))
    assert variables == {name for name, _ in conf.ENVIRONMENT_PROPERTIES}
    read = set(re.findall(r'self\._setting\(\s*"([A-Z_]+)"', source))
    listed = {name for name, _ in conf.SETTING_PROPERTIES}
    # The history alias is checked against DATABASES by a system check, not here; BASE_DIR is
    # Django's own, read only to resolve relative fingerprint globs.
    assert read - {"CONCURRENT_TEST_HISTORY_DATABASE", "BASE_DIR"} == listed
