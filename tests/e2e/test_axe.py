"""Issue 16: axe-core finds nothing on any page, for each role, at phone and desktop width. axe is injected by the
test through the browser's debugging channel only: the pages' Content-Security-Policy is unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import _reserve_at_pvpt, sign_in

pytestmark = pytest.mark.e2e

axe_package = pytest.importorskip("axe_playwright_python", reason="axe-playwright-python (test extra) is missing")
AXE = (Path(axe_package.__file__).parent / "axe.min.js").read_text()

PAGES = {
    "secretariat": ["/shelters", "/shelters/PVPT", "/shelters/PVPT/edit", "/shelters/new", "/overview",
                    "/overview/trends", "/alerts", "ALERT", "/placements", "REQUEST", "/placements/new", "/cases/new",
                    "CASE", "/admin/users", "/admin/organisations", "/audit", "/account/password"],
    "police": ["/shelters", "/placements", "/placements/new", "/cases/new"],
    "manager": ["/shelters/PVPT", "/placements", "/stats", "/alerts"],
    "partner": ["/figures", "/shelters"],
    "admin": ["/admin/users", "/admin/organisations", "/audit"],
}


def axe_violations(page) -> list[str]:  # noqa: ANN001
    page.evaluate(AXE)
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
            for v in json.loads(result)]


def concrete(path: str, live_server) -> str:  # noqa: ANN001
    from alerts.models import Alert
    from extensions import db
    from placement.models import PlacementRequest
    from shelters.models import Case

    with live_server.app.app_context():
        if path == "ALERT":
            return f"/alerts/{db.session.scalar(select(Alert.id).order_by(Alert.id))}"
        if path == "REQUEST":
            return f"/placements/{db.session.scalar(select(PlacementRequest.id).order_by(PlacementRequest.id))}"
        if path == "CASE":
            return f"/cases/{db.session.scalar(select(Case.code).order_by(Case.code))}"
    return path


@pytest.mark.parametrize("width", [375, 1100])
@pytest.mark.parametrize("role", list(PAGES))
def test_axe_finds_nothing_on_any_page(browser, live_server, role, width):  # noqa: ANN001
    _reserve_at_pvpt(live_server.app)
    context = browser.new_context(viewport={"width": width, "height": 800}, base_url=live_server.url)
    page = context.new_page()
    csp: list[str] = []
    page.on("response", lambda r: csp.append(r.headers.get("content-security-policy", "")) if r.request
            .resource_type == "document" else None)
    try:
        page.goto("/login")
        found = {"/login": axe_violations(page)}
        sign_in(page, role)
        for path in PAGES[role]:
            page.goto(concrete(path, live_server))
            found[path] = axe_violations(page)
        problems = {path: v for path, v in found.items() if v}
        assert problems == {}, json.dumps(problems, indent=1)
        assert csp and all("script-src 'self';" in c for c in csp)  # the CSP is the app's own, unchanged
    finally:
        context.close()
