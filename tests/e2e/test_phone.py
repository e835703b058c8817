"""Issue 16 in a real Chromium: the main tasks on a 375-pixel phone and a desktop, in all three languages. Nothing a
task needs sits off-screen to the right, the board puts the day's work before the charts, and a form sent after
the session ran out comes back filled in. Screenshots are written to tests/e2e/screenshots/ to be looked at."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import _reserve_at_pvpt, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1100, "height": 900}
LANGUAGES = ["en", "sq", "sr"]


@pytest.fixture
def open_page(browser, live_server):  # noqa: ANN001, ANN201
    """open_page(viewport, language) -> a page of a fresh browser context at that size and language."""
    contexts = []

    def _open(viewport: dict, language: str):  # noqa: ANN202
        context = browser.new_context(viewport=viewport, base_url=live_server.url,
                                      extra_http_headers={"Accept-Language": language})
        contexts.append(context)
        page = context.new_page()
        page.failures = []
        page.on("console", lambda m: page.failures.append(m.text) if m.type == "error" else None)
        return page

    yield _open
    for context in contexts:
        context.close()


def no_horizontal_scroll(page) -> None:  # noqa: ANN001
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"
    wide = page.evaluate("""() => [...document.querySelectorAll('.table-wrap')]
        .filter(w => w.checkVisibility() && w.scrollWidth > w.clientWidth + 1)
        .map(w => w.querySelector('table')?.id || w.querySelector('table')?.className)""")
    assert wide == [], f"tables scrolling sideways: {wide}"


def inside_viewport(page, locator) -> None:  # noqa: ANN001
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, box


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_police_landing_page_shows_free_beds_on_a_phone(open_page, live_server, language):  # noqa: ANN001
    page = open_page(PHONE, language)
    sign_in(page, "police")
    page.wait_for_url(re.compile(r"/placements\?status=waiting$"))  # police land on their live requests
    page.goto("/shelters")
    no_horizontal_scroll(page)
    free = page.locator("table.stack tbody tr", has_text="PVPT").locator("td.stack-key")
    assert free.is_visible() and free.inner_text().strip() != ""
    inside_viewport(page, free)
    screenshot(page, f"phone-police-shelters-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_managers_board_on_a_phone_puts_the_days_work_first(open_page, live_server, language):  # noqa: ANN001
    _reserve_at_pvpt(live_server.app)
    page = open_page(PHONE, language)
    sign_in(page, "manager")
    page.wait_for_url(re.compile(r"/shelters/PVPT$"))
    no_horizontal_scroll(page)
    top = {name: page.locator(selector).first.bounding_box()["y"] for name, selector in {
        "incoming": "section.incoming", "admit": "#admit-heading", "headcount": "#headcount-heading",
        "residents": "#residents-heading", "chart": "#history"}.items()}
    assert top["incoming"] < top["admit"] < top["headcount"] < top["residents"] < top["chart"], top
    # Each resident is a card whose Discharge control is on the screen.
    discharge = page.locator("table.residents tbody tr").first.locator("summary")
    assert discharge.is_visible()
    inside_viewport(page, discharge)
    discharge.click()
    reason = page.locator("table.residents tbody tr").first.locator("select[name=reason]")
    inside_viewport(page, reason)
    assert reason.input_value() == ""  # nothing chosen for the manager
    # The chart stays readable: its text is never drawn smaller than 9 CSS pixels on the phone.
    smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('#history svg text')]
        .map(t => t.getBoundingClientRect().height).filter(h => h > 0))""")
    assert smallest >= 9, smallest
    screenshot(page, f"phone-manager-board-{language}")


@pytest.mark.parametrize("language", ["sq", "sr"])
@pytest.mark.parametrize("path", ["/shelters", "/overview", "/placements"])
def test_wide_tables_fit_a_desktop_in_albanian_and_serbian(open_page, live_server, language, path):  # noqa: ANN001
    page = open_page(DESKTOP, language)
    sign_in(page, "secretariat")
    page.goto(path)
    no_horizontal_scroll(page)
    screenshot(page, f"desktop-{path.strip('/')}-{language}")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_form_sent_after_the_session_ran_out_comes_back_filled(open_page, live_server, viewport):  # noqa: ANN001
    page = open_page(viewport, "sq")
    sign_in(page, "police")
    page.goto("/placements/new")
    page.select_option("select[name=urgency]", "emergency")
    page.select_option("select[name=sex]", "female")
    page.fill("input[name=age]", "24")
    page.select_option("select[name=nationality]", "MD")
    page.select_option("select[name=languages]", ["ro", "ru"])
    page.select_option("select[name=risk]", "high")
    page.fill("input[name=region]", "Prishtinë")

    # Fifteen idle minutes pass: the signed cookie's clock is moved back, as the idle limit reads it.
    app = live_server.app
    signer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = next(c for c in page.context.cookies() if c["name"] == name)
    data = signer.loads(cookie["value"])
    data["seen_at"] = int(time.time()) - app.config["SAFEHAVEN_SESSION_IDLE_MINUTES"] * 60 - 5
    page.context.add_cookies([cookie | {"value": signer.dumps(data)}])

    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/login" in page.url and "MD" not in page.url and "24" not in page.url
    assert page.locator("html").get_attribute("lang") == "sq"
    assert page.locator("[role=status]").count() >= 1
    screenshot(page, f"expired-sign-in-{viewport['width']}")
    page.fill("input[name=username]", "police")
    page.fill("input[name=password]", "police-demo-password")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/placements/new$"))
    assert page.input_value("select[name=urgency]") == "emergency"
    assert page.input_value("input[name=age]") == "24" and page.input_value("select[name=nationality]") == "MD"
    assert page.eval_on_selector("select[name=languages]",
                                 "s => [...s.selectedOptions].map(o => o.value)") == ["ro", "ru"]
    assert page.input_value("select[name=risk]") == "high"
    screenshot(page, f"expired-form-back-{viewport['width']}")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/placements/\d+$"))
    assert page.failures == [], page.failures


def test_a_printed_board_keeps_the_charts_numbers(open_page, live_server):  # noqa: ANN001
    page = open_page(DESKTOP, "en")
    sign_in(page, "manager")
    page.wait_for_url(re.compile(r"/shelters/PVPT$"))
    assert not page.locator("#history-table").is_visible()  # folded on screen
    page.emulate_media(media="print")
    assert page.locator("#history-table").is_visible()
    assert not page.locator("#session-warning").is_visible() and not page.locator("header.topbar").is_visible()
