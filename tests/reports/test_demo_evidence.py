"""The demo tells the cable's story through the evidence pages, and partners see none of it."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from reports import actions, evidence, identifications
from reports.models import OPEN_STATUSES
from shelters import demo
from shelters.models import Shelter


def test_the_demo_explains_why_hah_and_isf_stand_empty(app, now, client, pages):
    demo.load(db.session, now)
    db.session.commit()
    period = evidence.default_period(now.date(), 730)
    hah = db.session.scalar(select(Shelter).where(Shelter.code == "HAH"))
    isf = db.session.scalar(select(Shelter).where(Shelter.code == "ISF"))
    hah_funnel, isf_funnel = (evidence.funnel(db.session, s, period, now) for s in (hah, isf))
    top = hah_funnel.exclusions[0]
    assert (top.code, dict(top.values)) == ("age", {"group": "adults"})  # minors only
    assert hah_funnel.made == isf_funnel.made > hah_funnel.eligible
    assert isf_funnel.exclusions and set(isf_funnel.declined) == {"shelter_too_far"}
    assert "distance" in isf_funnel.passed_over  # far
    shifts = identifications.shifts(identifications.identified(db.session, now), now.date())
    assert (shifts.before, shifts.after) == (32, 24)
    assert identifications.contributor_text(shifts.contributors[0][1]) == "Border police, Prishtina airport: 11 -> 2"
    plan = actions.list_actions(db.session)
    assert [a.status in OPEN_STATUSES for a in plan] == [True]
    assert [s.code for s in plan[0].shelters] == ["HAH", "ISF"]

    pages.login("partner", "partner-demo-password")
    html = client.get("/figures").get_data(as_text=True)
    assert "airport" not in html and "Brief the airport" not in html
    for path in ("/overview/shelters/HAH/funnel", "/overview/actions", "/overview/trends"):
        assert client.get(path).status_code == 403


def test_a_demo_reset_removes_the_evidence_too(app, now):
    demo.load(db.session, now)
    db.session.commit()
    demo.reset(db.session)
    demo.load(db.session, now)
    db.session.commit()
    assert len(actions.list_actions(db.session)) == 1
