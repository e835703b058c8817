"""The main flows in a real headless Chromium against a live server: what a person sees and does."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from shelters.models import Case
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def sign_in(page, username: str) -> None:  # noqa: ANN001
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-demo-password")
    page.click("button[type=submit]")


def test_the_manager_admits_and_discharges_and_the_board_follows(page, live_server):  # noqa: ANN001
    with live_server.app.app_context():
        waiting = db.session.scalar(select(Case.code).where(Case.status == "awaiting_placement",
                                                            Case.children == 0).order_by(Case.code))
    assert waiting, "the demo has cases awaiting placement"
    sign_in(page, "manager")
    page.wait_for_url(re.compile(r"/shelters/PVPT$"))
    body = page.locator("main").inner_text()
    assert "Residents (4)" in body
    screenshot(page, "board-pvpt")

    page.fill("input[name=case_code]", waiting)
    page.get_by_role("button", name="Admit").click()
    page.wait_for_load_state()
    assert "Residents (5)" in page.locator("main").inner_text()
    assert waiting in page.locator("main").inner_text()

    row = page.locator("table.residents tr", has_text=waiting)
    row.locator("summary").click()
    row.locator("select[name=reason]").select_option("repatriated")
    row.get_by_role("button", name="Discharge").click()
    page.wait_for_load_state()
    assert "Residents (4)" in page.locator("main").inner_text()
    assert page.failures == [], page.failures


def test_the_secretariat_sees_every_shelter_and_loads_nothing_from_elsewhere(page, live_server):  # noqa: ANN001
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, "secretariat")
    page.goto("/shelters")
    rows = page.locator("table tbody tr")
    assert rows.count() == 3
    assert "80%" in rows.filter(has_text="PVPT").inner_text()
    screenshot(page, "shelters-secretariat")
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requests), requests
    assert page.failures == [], page.failures
