"""The dashboard's browser test: the API served over real HTTP by the server `make run` uses, and
Debian's chromium driven headless through selenium and /usr/bin/chromedriver.

Without chromium or chromedriver the test is skipped, after trying apt-get when running as root;
under CI (CI=true) it fails instead, so CI can never pass without having run it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from chalice.config import Config
from chalice.local import LocalDevServer

from cashline.clock import fixed_clock
from localcloud import browser
from localcloud.cloud import LocalCloud
from localcloud.gateway import ApiGatewayRequestHandler, thread_safe
from localcloud.handlers import set_handler_clock
from tests.utils import FROZEN_NOW

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real browser (chromium) against the dashboard")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_paths() -> browser.Browser:
    found = browser.find_browser()
    if found is None and browser.can_install():
        try:
            found = browser.install()
        except Exception as exc:  # apt-get failed: say so, as when not root
            _unavailable(f"installing chromium with apt-get failed ({exc}); {browser.missing_reason()}")
    if found is None:
        _unavailable(browser.missing_reason())
    assert found is not None
    return found


@pytest.fixture
def dashboard_now(local_cloud: LocalCloud) -> Iterator[datetime]:
    """The instant the dashboard's test runs the app at: FROZEN_NOW's day in Berlin at 11:00, inside
    the collection's sending hours (09:00-18:00), so a call step falls due today whatever time of
    day CASHLINE_TEST_NOW names. The live server's requests run in this process and see it too."""
    day = FROZEN_NOW.astimezone(ZoneInfo("Europe/Berlin")).date()
    instant = datetime.combine(day, time(11, 0), tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    previous = set_handler_clock(fixed_clock(instant))
    yield instant
    set_handler_clock(previous)


@pytest.fixture(scope="session")
def live_server(local_cloud: LocalCloud, chalice_app: Any) -> Iterator[str]:
    """The app on 127.0.0.1, a free port, through the same handler and server as `make run`."""
    server = LocalDevServer(
        thread_safe(chalice_app),
        Config.create(lambda_timeout=30),
        "127.0.0.1",
        0,
        handler_cls=ApiGatewayRequestHandler,
    )
    server.server.daemon_threads = True  # a browser's kept-alive connection must not hold up the end
    port = server.server.server_address[1]
    thread = threading.Thread(target=server.server.serve_forever, daemon=True, name="dashboard-api")
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def driver(browser_paths: browser.Browser, tmp_path: Path) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed: pip install -e '.[dev]'")
        raise

    options = webdriver.ChromeOptions()
    options.binary_location = browser_paths.chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no usable sandbox; the page is our own
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        "--lang=en-US",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    # The console, and Chrome's network events: every answer the page gets, with its status.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(
        executable_path=browser_paths.chromedriver, log_output=str(tmp_path / "chromedriver.log")
    )
    chrome = webdriver.Chrome(options=options, service=service)
    chrome.set_page_load_timeout(20)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def screenshot(driver: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """screenshot("cards") saves the page to tmp_path and to build/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        filename = f"{request.node.name}-{name}.png"
        driver.save_screenshot(str(tmp_path / filename))
        driver.save_screenshot(str(SCREENSHOTS / filename))
        return SCREENSHOTS / filename

    return take
