"""The history admin in headless Chromium, on sample_project: log in, open a run and a test,
and see the charts drawn.

Screenshots go to artifacts/screenshots/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, ROOT, run_manage
from tests.test_history import START, make_report

pytestmark = pytest.mark.browser

SAMPLE = ROOT / "sample_project"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "chart-viewer-5"
FLAKY_TEST = "shop.tests.test_catalog.CatalogTests.test_1"

RECORD = """
import os, pickle
from concurrent_test_app.history import record_run
for report in pickle.load(open(os.environ["HISTORY_REPORTS"], "rb")):
    assert record_run(report)
"""


@pytest.fixture
def chromium() -> Path:
    """Return the Chromium binary; fail under CI=true and skip elsewhere when it is missing."""
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing; install it with: apt-get update && apt-get install -y chromium"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def history_reports() -> list[Any]:
    """Return eight runs of a small suite: one unit getting slower, one test flaky."""
    units = {
        "shop.tests.test_checkout.CheckoutTests": 4.0,
        "shop.tests.test_catalog.CatalogTests": 2.5,
        "shop.tests.test_models.OrderModelTests": 1.2,
        "accounts.tests.LoginTests": 0.8,
        "accounts.tests.PasswordTests": 0.4,
    }
    reports = []
    for number in range(8):
        durations = dict(units)
        durations["shop.tests.test_checkout.CheckoutTests"] += 0.3 * number
        durations["shop.tests.test_catalog.CatalogTests"] += 0.4 * (number % 3)
        outcomes = {FLAKY_TEST: "failed"} if number in (2, 5) else {}
        reports.append(
            make_report(
                durations,
                outcomes=outcomes,
                tests_per_unit=3,
                workers=3,
                started_at=START + 5400 * number,
                exit_status=1 if outcomes else 0,
            )
        )
    return reports


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sample_admin(tmp_path: Path) -> Iterator[str]:
    """Serve sample_project, with a superuser and recorded history, and yield its base URL."""
    reports = tmp_path / "reports.pickle"
    reports.write_bytes(pickle.dumps(history_reports()))
    env = {
        # pytest-django exports tests.settings; sample_project has its own.
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'admin.sqlite3'}",
        "DEBUG": "true",  # runserver serves the admin's static files only in debug mode
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "HISTORY_REPORTS": str(reports),
    }
    for args in (
        ("migrate", "-v", "0"),
        ("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"),
        ("shell", "--no-imports", "-c", RECORD),
    ):
        completed = run_manage(SAMPLE, *args, env=env, timeout=120)
        assert completed.returncode == 0, completed.stderr

    port = free_port()
    log = (tmp_path / "runserver.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=SAMPLE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "runserver.log").read_text()
                assert time.monotonic() < deadline, "runserver did not start in 30 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def assert_drawn(page: Any, selector: str, minimum: int = 1) -> int:
    """Assert that ``selector`` matches at least ``minimum`` elements, all of non-zero size."""
    elements = page.locator(selector)
    count = elements.count()
    assert count >= minimum, f"{selector}: {count} elements"
    for index in range(count):
        box = elements.nth(index).bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, (selector, index, box)
    return int(count)


def test_admin_charts_render_in_chromium(chromium: Path, sample_admin: str) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{sample_admin}/admin/login/?next=/admin/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#site-name")
            assert "/login/" not in page.url

            # The runs list, newest first; open the latest run from it.
            page.goto(f"{sample_admin}/admin/concurrent_test_app/run/")
            assert page.locator("#result_list tbody tr").count() == 8
            page.screenshot(path=str(SCREENSHOTS / "admin-runs.png"), full_page=True)
            page.locator("#result_list tbody tr th a").first.click()
            page.wait_for_selector("svg.ct-timeline")
            assert_drawn(page, "svg.ct-timeline")
            assert assert_drawn(page, "svg.ct-timeline rect") == 5
            assert page.locator("#ct-slowest-tests tbody tr").count() == 15
            page.screenshot(path=str(SCREENSHOTS / "admin-run.png"), full_page=True)

            # The tests list with its sparklines; open the flaky test from it.
            page.goto(f"{sample_admin}/admin/concurrent_test_app/case/")
            assert assert_drawn(page, "svg.ct-sparkline polyline") == 15
            assert page.locator("td.field-flaky img[alt='True']").count() == 1
            page.screenshot(path=str(SCREENSHOTS / "admin-tests.png"), full_page=True)
            page.get_by_role("link", name=FLAKY_TEST).click()
            page.wait_for_selector("svg.ct-duration")
            assert_drawn(page, "svg.ct-duration polyline")
            assert assert_drawn(page, "svg.ct-duration circle") == 8
            assert page.locator("#ct-duration strong", has_text="Flaky:").count() == 1
            page.screenshot(path=str(SCREENSHOTS / "admin-test.png"), full_page=True)
        finally:
            browser.close()

    for name in ("admin-runs.png", "admin-run.png", "admin-tests.png", "admin-test.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
