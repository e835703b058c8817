"""The main flows in a real headless Chromium against a live server: what a person sees and does."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from database import utcnow
from extensions import db
from shelters.models import Case
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def sign_in(page, username: str) -> None:  # noqa: ANN001
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-demo-password")
    with page.expect_navigation():
        # The sign-in form's own button: the layout's language switch has submit buttons too.
        page.click("main form button[type=submit]")


def _reserve_at_pvpt(app) -> str:  # noqa: ANN001
    """The demo's officer reserves PVPT's free bed for a waiting case that fits it; its code."""
    from flask import current_app

    from accounts.models import User
    from errors import DomainError
    from placement import services as placement

    with app.app_context():
        officer = db.session.scalar(select(User).where(User.username == "police"))
        settings, now = placement.Settings.from_config(current_app.config), utcnow()
        for case in db.session.scalars(select(Case).where(Case.status == "awaiting_placement", Case.children == 0)
                                       .order_by(Case.code)):
            try:
                with db.session.begin_nested():
                    request = placement.create_request(db.session, officer, now, case, settings)
                    placement.reserve(db.session, officer, now, request, "PVPT", settings)
            except DomainError:
                continue
            db.session.commit()
            return case.code
    raise AssertionError("the demo has cases awaiting placement that PVPT takes")


def test_the_manager_admits_and_discharges_and_the_board_follows(page, live_server):  # noqa: ANN001
    # A manager admits only what a placement request holds a bed for at their shelter.
    waiting = _reserve_at_pvpt(live_server.app)
    sign_in(page, "manager")
    page.wait_for_url(re.compile(r"/shelters/PVPT$"))
    body = page.locator("main").inner_text()
    assert "Residents (4)" in body
    # The occupancy history: the chart (capacity line, beds occupied) and the stays, by case code only.
    history = page.locator("#history")
    assert history.locator("svg.chart--history").is_visible()
    assert history.locator("svg .chart-capacity").count() == 1 and history.locator("svg .chart-occupied").count() == 1
    assert history.locator("#history-stays tbody tr").count() >= 4
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


def test_the_secretariat_overview_trends_and_alerts(page, live_server):  # noqa: ANN001
    sign_in(page, "secretariat")
    page.goto("/overview")
    rows = page.locator("table tbody tr")
    assert "80%" in rows.filter(has_text="PVPT").first.inner_text()
    for code, alert in (("HAH", "HAH unused for"), ("ISF", "ISF never used")):
        row = rows.filter(has_text=code).first.inner_text()
        assert "0%" in row and alert in row
    assert page.locator("svg").count() >= 3
    # A 90-night sparkline per shelter, its numbers in its text alternative.
    assert page.locator("svg.sparkline").count() == 3
    assert page.locator("#shelter-PVPT svg.sparkline").is_visible()
    assert "90 nights" in page.locator("#shelter-PVPT svg.sparkline title").text_content()
    assert page.locator("#shelter-PVPT svg.sparkline .sparkline-occupied").count() == 1
    screenshot(page, "overview")

    page.goto("/overview/trends")
    assert page.locator("#previous-12").inner_text() == "32"
    assert page.locator("#last-12").inner_text() == "24"
    screenshot(page, "trends")

    page.goto("/alerts")
    queue = page.locator("main").inner_text()
    assert "HAH unused for" in queue and "Identifications down 25% year over year (24 vs 32)" in queue
    screenshot(page, "alerts")
    assert page.failures == [], page.failures


def test_a_partner_sees_only_suppressed_aggregates(page, live_server):  # noqa: ANN001
    sign_in(page, "partner")
    page.goto("/figures")
    text = page.locator("main").inner_text()
    assert "<11" in text and "PVPT" not in text
    screenshot(page, "figures-partner")
    assert page.failures == [], page.failures


def test_why_hah_stands_empty_and_the_action_plan_in_each_language(page, live_server):  # noqa: ANN001
    sign_in(page, "secretariat")
    for language, made_label, what_if in (("en", "Requests made", "Takes adults and minors"),
                                          ("sq", "Kërkesa të bëra", "Pranon të rritur dhe të mitur"),
                                          ("sr", "Podneti zahtevi", "Prima odrasle i maloletne")):
        page.goto("/shelters")
        page.locator(f"form[action='/language'] button[value='{language}']").first.click()
        page.goto("/overview/shelters/HAH/funnel")
        steps = page.locator("#funnel-steps tbody tr")
        assert made_label in steps.first.inner_text()
        made = int(re.sub(r"\D", "", steps.first.locator("td").inner_text()))
        assert made > 0
        # The chart's numbers are beside it, and the chart says them too.
        assert re.search(rf"{made_label}: \D*{made};", page.locator("#funnel svg").first.text_content())
        gaps = page.locator("#eligibility-gaps tbody tr").first.inner_text()
        assert str(made) in gaps  # "... of N requests"
        assert what_if in page.locator("#what-if").inner_text()
        screenshot(page, f"funnel-hah-{language}")
    page.goto("/overview/trends")
    assert "11 → 2" in page.locator("#largest-contributors").inner_text()
    page.goto("/overview/actions")
    assert page.locator("section.action").count() == 1
    assert "HAH" in page.locator("section.action table").inner_text()
    screenshot(page, "action-plan")


def test_the_manager_s_board_picks_up_a_new_request_without_a_reload(page, live_server):  # noqa: ANN001
    live_server.app.config["SAFEHAVEN_LIVE_SECONDS"] = 2
    sign_in(page, "manager")
    page.wait_for_url(re.compile(r"/shelters/PVPT$"))
    incoming = page.locator("#live-board-lead")
    assert "No request is waiting for this shelter." in incoming.inner_text()
    assert not page.locator("[data-live-badge]").is_visible()
    page.evaluate("window.stillTheSamePage = true")  # gone if the page were loaded again

    waiting = _reserve_at_pvpt(live_server.app)  # an officer reserves a bed here meanwhile
    page.wait_for_function("code => document.querySelector('#live-board-lead').innerText.includes(code)",
                           arg=waiting, timeout=20000)
    assert page.evaluate("window.stillTheSamePage") is True
    text = incoming.inner_text()
    assert f"Accept {waiting}" in text and re.search(r"held for 1 h 5\d min", text), text
    assert page.locator("[data-live-badge]").inner_text() == "1"
    page.wait_for_function("() => /Held for placements\\s*1/.test(document.querySelector('#live-board-beds').innerText)",
                           timeout=5000)  # the beds follow too
    screenshot(page, "board-live-request")
    # The live part leads the board: above the beds.
    lead, beds = (page.locator(s).bounding_box()["y"] for s in ("#incoming-heading", "#beds-heading"))
    assert lead < beds
    assert page.failures == [], page.failures
