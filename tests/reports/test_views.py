"""The report pages driven as a browser would: the cable's demo on the overview and trends, the exports
(the page's rows, audited, behind re-authentication, refused to other roles) and the partners' figures."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from accounts.models import AuditEvent
from alerts import jobs
from alerts.rules import Thresholds
from extensions import db
from shelters import demo
from tests.alerts.test_views import assert_clean_html, body, sign_in


@pytest.fixture
def cable(app, now):
    demo.load(db.session, now)
    db.session.commit()
    jobs.evaluate_alerts(db.session, now, Thresholds())
    db.session.commit()


def row(html: str, code: str) -> str:
    match = re.search(rf'<tr class="overview-row" id="shelter-{code}">(.*?)</tr>', html, re.DOTALL)
    assert match, f"no row for {code}"
    return match.group(1)


def cells(html: str, code: str) -> dict[str, str]:
    """A row's cells by their data-label, tags stripped."""
    found = re.findall(r'data-label="([^"]+)">(.*?)</t[dh]>', row(html, code), re.DOTALL)
    return {label: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for label, text in found}


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(response))))


def test_overview_shows_the_cable(client, pages, cable):
    sign_in(pages, "secretariat")
    response = client.get("/overview")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    assert '<a href="/overview" aria-current="page">Overview</a>' in html
    pvpt, hah, isf = cells(html, "PVPT"), cells(html, "HAH"), cells(html, "ISF")
    assert pvpt["30 days"] == "80%" and "4 of 5 occupied (80%)" in pvpt["Beds"]
    assert pvpt["Days since last resident"] == "residents now"
    assert "<svg" in row(html, "PVPT") and "4 occupied" in row(html, "PVPT")
    assert hah["30 days"] == "0%" and "HAH unused for 143 days" in hah["Open alerts"]
    assert hah["Days since last resident"] == "143"
    assert isf["30 days"] == "0%" and "ISF never used" in isf["Open alerts"]
    assert isf["Days since last resident"] == "never used"
    assert 'class="util util--low"' in row(html, "HAH") and 'class="util util--ok"' in row(html, "PVPT")
    # A 90-night sparkline per shelter, its numbers in words: PVPT's four residents every night, HAH none.
    spark = re.search(r'<svg class="sparkline".*?</svg>', row(html, "PVPT"), re.DOTALL).group(0)
    title = re.search(r'<title id="spark-PVPT">(.*?)</title>', spark).group(1)
    assert "PVPT, 90 nights from" in title and "4 beds occupied every night" in title and "5 usable beds" in title
    assert 'class="sparkline-occupied"' in spark and 'class="sparkline-usable"' in spark
    # What the sparklines share is drawn once in the page, and every reference finds it.
    assert html.count('<svg class="visually-hidden" aria-hidden="true"') == 1
    assert set(re.findall(r'<use[^>]* href="#([^"]+)"', html)) <= set(re.findall(r' id="([^"]+)"', html))
    assert "no bed occupied" in re.search(r'<title id="spark-HAH">(.*?)</title>', row(html, "HAH")).group(1)


def test_overview_sorts_on_the_server(client, pages, cable):
    sign_in(pages, "secretariat")
    html = body(client.get("/overview?sort=util30&dir=desc"))
    assert re.findall(r'id="shelter-(\w+)"', html)[0] == "PVPT"
    html = body(client.get("/overview?sort=code&dir=desc"))
    assert re.findall(r'id="shelter-(\w+)"', html) == ["PVPT", "ISF", "HAH"]
    assert client.get("/overview?sort=address").status_code == 400


def test_trends_show_the_fall_from_32_to_24(client, pages, cable):
    sign_in(pages, "secretariat")
    response = client.get("/overview/trends")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    assert '<dd id="previous-12">32</dd>' in html and '<dd id="last-12">24</dd>' in html
    years = re.search(r'<section class="card report-chart" id="years">(.*?)</section>', html, re.DOTALL).group(1)
    assert "<svg" in years
    assert re.search(r'12 months before</th><td class="num">32</td>', years)
    assert re.search(r'Last 12 months</th><td class="num">24</td>', years)
    for section in ("quarters", "exploitation", "sex", "age", "organisation", "outcomes", "declined"):
        assert f'id="{section}"' in html


@pytest.mark.parametrize("path", ["/overview.csv", "/overview/trends.csv"])
def test_exports_are_audited_and_need_re_authentication(client, pages, cable, path):
    sign_in(pages, "secretariat")
    with client.session_transaction() as session:
        session["reauth_at"] = 0
    response = client.get(path)
    assert response.status_code == 302 and "/account/reauth" in response.headers["Location"]
    with client.session_transaction() as session:
        session.pop("reauth_at")
    sign_in(pages, "secretariat")  # a fresh sign-in counts as entering the password
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
    assert [(e.actor, e.object_id) for e in events] == [("secretariat", path.strip("/").split(".")[0].split("/")[-1])]


def test_overview_export_matches_the_page(client, pages, cable):
    sign_in(pages, "secretariat")
    html = body(client.get("/overview?sort=util30&dir=desc"))
    rows = read_csv(client.get("/overview.csv?sort=util30&dir=desc"))
    assert [r["shelter"] for r in rows] == re.findall(r'id="shelter-(\w+)"', html)
    by_code = {r["shelter"]: r for r in rows}
    assert by_code["PVPT"]["utilisation_30d_pct"] == "80" and by_code["PVPT"]["occupied"] == "4"
    assert by_code["HAH"]["utilisation_30d_pct"] == "0" and "HAH unused for 143 days" in by_code["HAH"]["open_alerts"]
    assert by_code["ISF"]["days_since_last_resident"] == ""
    for code, r in by_code.items():
        assert f'{r["utilisation_30d_pct"]}%' == cells(html, code)["30 days"]
    assert "address" not in rows[0]


def test_trends_export_matches_the_page(client, pages, cable):
    sign_in(pages, "secretariat")
    html = body(client.get("/overview/trends"))
    rows = read_csv(client.get("/overview/trends.csv"))
    years = {r["category"]: r["count"] for r in rows if r["chart"] == "years"}
    assert years == {"12 months before": "32", "Last 12 months": "24"}
    for r in rows:
        if r["chart"] in ("sex", "age", "exploitation"):
            section = re.search(rf'id="{r["chart"]}">(.*?)</section>', html, re.DOTALL).group(1)
            assert f'{r["category"]}</th><td class="num">{r["count"]}</td>' in section


@pytest.mark.parametrize("role", ["admin", "shelter_manager", "police", "partner"])
@pytest.mark.parametrize("path", ["/overview", "/overview/trends", "/overview.csv", "/overview/trends.csv"])
def test_other_roles_are_refused(client, pages, make, role, path):
    make.user(role, username=f"someone-{role.replace('_', '-')}")
    pages.login(f"someone-{role.replace('_', '-')}")
    assert client.get(path).status_code == 403
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "report.export")) is None


def test_partner_sees_suppressed_aggregates_only(client, pages, cable):
    sign_in(pages, "partner")
    response = client.get("/figures")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    assert '<a href="/figures" aria-current="page">Figures</a>' in html and ">Overview<" not in html
    assert 'id="suppression-note"' in html and "k=11" in html
    assert '<dd id="total">24</dd>' in html
    numbers = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', html)]
    assert numbers and all(n >= 11 for n in numbers)
    assert "&lt;11" in html
    # No shelter code, case code or date of identification reaches a partner; the cable's three shelters are in
    # three regions, so their bed-nights are one group of three.
    for secret in ("PVPT", "HAH", "ISF", "Interim Security Facility", "Prizren", "Mitrovicë"):
        assert secret not in html
    assert re.findall(r'<section class="card report-chart" id="regions">.*?<tbody>\s*<tr><th scope="row">([^<]+)</th>',
                      html, re.DOTALL) == ["Other regions"]
    assert 'id="as-of">As of' in html
    assert not re.search(r"\d{4}-\d{2}-\d{2}</th>", html)
    assert client.get("/overview").status_code == 403


def test_secretariat_sees_the_partner_figures_too(client, pages, cable):
    sign_in(pages, "secretariat")
    assert client.get("/figures").status_code == 200
