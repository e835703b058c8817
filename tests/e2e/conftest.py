"""A live server on a free loopback port over the cable's demo, and a real headless Chromium.

Chromium is Debian's package (`apt-get install chromium`; `.ci/run` installs it). Outside CI the
browser tests skip with a clear message when it is missing; in CI a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from alerts.jobs import evaluate_alerts
from alerts.rules import Thresholds
from app import create_app
from config import TestConfig
from database import utcnow
from extensions import db
from shelters import demo

SCREENSHOTS = Path(__file__).with_name("screenshots")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class LiveServer:
    url: str
    app: object


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:  # noqa: ANN001
    app = create_app(TestConfig(f"sqlite:///{tmp_path / 'live.db'}"))
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        db.create_all()
        demo.load(db.session, utcnow())
        evaluate_alerts(db.session, utcnow(), Thresholds.from_config(app.config))
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(10)


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    executable = _chromium()
    if executable is None:
        message = "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1100, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    failures: list[str] = []
    page.on("requestfailed", lambda r: failures.append(r.url))
    page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
    page.failures = failures
    yield page
    context.close()


def screenshot(page, name: str) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
