"""A police officer requests a placement and reserves a bed with the keyboard alone, in a real headless Chromium.

Only Tab, Shift+Tab, Space, Enter, the arrow keys and typing: no clicks, no filling by selector. At every
stop the focus must be visible (the :focus-visible outline of static/app.css), the control must have an
accessible name, and the stops must follow the visual order of the form; a refused form puts the focus
on its first invalid field, which names its error.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from sqlalchemy import select

from extensions import db
from placement.models import PlacementRequest
from shelters.models import Case
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

FOCUSED = """() => {
  const el = document.activeElement;
  const shown = el.getBoundingClientRect();
  // Where a reader sees the control: its field (label above it, a hint between), or its own box.
  const r = (el.closest('.choices li, .field:not(.field--choices)') || el).getBoundingClientRect();
  const style = getComputedStyle(el);
  const described = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)
    .map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
  return {
    tag: el.tagName.toLowerCase(), type: el.type || null, name: el.name || null, id: el.id || null,
    value: el.value === undefined ? null : el.value, text: (el.textContent || '').trim().slice(0, 60),
    focusVisible: el.matches(':focus-visible'), outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
    top: r.top + window.scrollY, left: r.left + window.scrollX, height: r.height,
    width: shown.width, shownHeight: shown.height,
    inForm: !!el.closest('main form'), invalid: el.getAttribute('aria-invalid'), described,
    order: Array.prototype.indexOf.call(document.querySelectorAll('*'), el),
  };
}"""


def focused(page) -> dict[str, Any]:
    """The focused control's place, focus style and the role and accessible name Chromium gives assistive
    technology (its accessibility tree, through the DevTools protocol)."""
    stop = page.evaluate(FOCUSED)
    cdp = getattr(page, "kbd_cdp", None)
    if cdp is None:
        cdp = page.kbd_cdp = page.context.new_cdp_session(page)
    element = cdp.send("Runtime.evaluate", {"expression": "document.activeElement"})["result"]
    nodes = cdp.send("Accessibility.getPartialAXTree", {"objectId": element["objectId"], "fetchRelatives": False})
    node = nodes["nodes"][0]
    stop["role"] = node.get("role", {}).get("value", "")
    stop["accessible_name"] = str(node.get("name", {}).get("value", ""))
    return stop


def describe(stop: dict[str, Any]) -> str:
    return f"{stop['role']} {stop['accessible_name']!r} ({stop['tag']} name={stop['name']} id={stop['id']})"


def assert_usable(stop: dict[str, Any]) -> None:
    """The focus is visible and the control has a name a screen reader can say."""
    assert stop["focusVisible"] and stop["outline"] not in ("none", "") and stop["outlineWidth"] >= 2, describe(stop)
    assert stop["width"] > 0 and stop["shownHeight"] > 0, f"focus on something not shown: {describe(stop)}"
    assert stop["accessible_name"].strip(), f"no accessible name: {describe(stop)}"


def same_control(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["order"] == b["order"]


def tab(page, *, back: bool = False) -> dict[str, Any]:
    """Press Tab (or Shift+Tab) until the focus leaves the current control (a date field has a stop per part)."""
    before = page.evaluate(FOCUSED)
    for _ in range(5):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page)
        if now["order"] != before["order"]:
            return now
    raise AssertionError(f"the focus does not leave {before}")


def tab_to(page, predicate, on_stop=None, limit: int = 120) -> list[dict[str, Any]]:
    """Tab until predicate(stop), calling on_stop(stop) at each; every stop on the way is checked and
    returned, the last one included."""
    stops: list[dict[str, Any]] = []
    for _ in range(limit):
        stop = tab(page)
        assert_usable(stop)
        stops.append(stop)
        if on_stop is not None:
            on_stop(stop)
        if predicate(stop):
            return stops
    raise AssertionError(f"not reached in {limit} stops: {[describe(s) for s in stops]}")


def assert_reading_order(stops: list[dict[str, Any]]) -> None:
    """Each next control is in the same row further right, or in a row below (and later in the page source)."""
    for before, after in itertools.pairwise(stops):
        assert after["order"] > before["order"], (describe(before), describe(after))
        row = 0.5 * min(before["height"], after["height"])
        same_row = abs(after["top"] - before["top"]) < row
        assert (same_row and after["left"] > before["left"]) or after["top"] - before["top"] >= row, (
            f"{describe(after)} is not after {describe(before)} on the screen")


def sign_in(page, username: str) -> None:
    page.goto("/login")
    stop = tab_to(page, lambda s: s["name"] == "username")[-1]
    assert stop["role"] == "textbox"
    page.keyboard.type(username)
    assert tab(page)["name"] == "password"
    page.keyboard.type(f"{username}-demo-password")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_an_officer_requests_and_reserves_by_keyboard_alone(page, live_server):
    sign_in(page, "police")
    page.goto("/placements/new")

    # The first pass leaves the age and the nationality out, to see the refusal.
    entries = {"languages": "Romanian", "region": "Prishtinë"}  # a language is found by typing its name
    form_stops: list[dict[str, Any]] = []

    def enter(stop: dict[str, Any]) -> None:
        if not stop["inForm"]:
            return
        form_stops.append(stop)
        if stop["name"] in entries:
            page.keyboard.type(entries[stop["name"]])
        elif stop["name"] == "exploitation" and not any(s["name"] == "exploitation" for s in form_stops[:-1]):
            page.keyboard.press("Space")  # the first form of exploitation
            assert page.evaluate("document.activeElement.checked") is True
        elif stop["name"] in ("urgency", "sex", "risk"):
            # Nothing is chosen for the officer ("Choose..."): the arrow picks the first real option.
            assert stop["value"] == ""
            page.keyboard.press("ArrowDown")
            assert page.evaluate("document.activeElement.value") != ""

    tab_to(page, lambda s: s["tag"] == "button" and s["inForm"], enter)

    names = [s["name"] or s["tag"] for s in form_stops]
    expected = ["urgency", "sex", "age", "nationality", "languages", "children", "risk", "exploitation", "needs",
                "region", "trafficker_regions", "identified_on"]
    assert [n for n in dict.fromkeys(names) if n in expected] == expected, names
    assert names[-1] == "button" and form_stops[-1]["accessible_name"] == "Find shelters"
    assert_reading_order(form_stops)
    checkboxes = [s for s in form_stops if s["role"] == "checkbox"]
    assert checkboxes and all(s["accessible_name"] for s in checkboxes)

    # Shift+Tab walks the same stops backwards.
    for expected_stop in reversed(form_stops[-6:-1]):
        assert same_control(tab(page, back=True), expected_stop)
    for expected_stop in form_stops[-5:]:
        assert same_control(tab(page), expected_stop)

    with page.expect_navigation():
        page.keyboard.press("Enter")
    # Refused: the focus is on the first invalid field, which says what is wrong; the page announces it.
    page.wait_for_function("document.activeElement !== document.body", timeout=5000)  # autofocus comes at once
    stop = focused(page)
    assert stop["name"] == "age" and stop["invalid"] == "true", describe(stop)
    assert_usable(stop)
    assert stop["described"], "the error is not tied to the field"
    assert page.locator("[role=alert]").filter(has_text="not sent").count() == 1
    screenshot(page, "keyboard-refused")

    page.keyboard.type("23")
    stop = tab(page)  # the next invalid field is the next stop
    assert stop["name"] == "nationality" and stop["invalid"] == "true" and stop["described"], describe(stop)
    page.keyboard.type("Moldova")  # the country found by its name; its code is sent
    assert page.evaluate("document.activeElement.value") == "MD"
    page.keyboard.press("Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a text field sends the form
    page.wait_for_url(re.compile(r"/placements/\d+$"))
    assert page.locator("[role=status]").filter(has_text="sent").count() == 1

    # Screen two: the first shelter that fits, reserved with the Space bar. Each button names its shelter.
    reserve = tab_to(page, lambda s: s["accessible_name"].startswith("Reserve a bed here"))[-1]
    assert reserve["tag"] == "button" and reserve["id"].removeprefix("reserve-") in reserve["accessible_name"]
    with page.expect_navigation():
        page.keyboard.press("Space")
    main = page.locator("main").inner_text()
    assert "reserved, held for" in main, main[:500]
    assert page.locator(".steps [aria-current=step]").inner_text().strip().startswith("3")
    screenshot(page, "keyboard-reserved")
    unexpected = [f for f in page.failures if "status of 422" not in f]  # the refusal above is expected
    assert unexpected == [], unexpected

    with live_server.app.app_context():
        case = db.session.scalar(select(Case).order_by(Case.id.desc()))
        assert case.nationality == "MD" and case.exploitation == ["sexual"] and case.created_by_id is not None
        placement = db.session.scalar(select(PlacementRequest).where(PlacementRequest.case_id == case.id))
        assert placement.status == "reserved" and placement.reservation.released_at is None
