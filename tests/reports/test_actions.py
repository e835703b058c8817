"""The action plan: recorded, audited, linked to alerts, and each shelter's figures before and after it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from accounts.models import AuditEvent
from alerts import services as alert_services
from alerts.models import Alert
from alerts.rules import Decision
from errors import Invalid
from extensions import db
from placement import services as placement
from reports import actions
from reports.models import Action
from shelters import services as shelter_services

D = datetime(2026, 5, 20, 10, tzinfo=UTC)


def test_before_and_after_figures_of_a_linked_shelter(app, make):
    """S has 2 beds. Before (10 May-19 May, 10 nights, 20 bed-nights): a stay of nights 15-17 = 3 -> 15%, one
    request. Since (20 May-29 May): a stay from the 20th, still open = 10 nights -> 50%, two requests, one
    chosen and admitted."""
    make._now = D - timedelta(days=30)
    s = make.shelter("S", capacity=2, created_at=D - timedelta(days=60))
    officer, manager, sec = make.user("police"), make.manager(s), make.user("secretariat")
    settings = placement.Settings.from_config(current_app.config)
    early = make.case(identified_on=date(2026, 4, 1))
    stay = shelter_services.admit_case(db.session, None, D, s, early, D - timedelta(days=5))
    shelter_services.discharge_stay(db.session, None, D, stay, "reintegrated", discharged_at=D - timedelta(days=2))
    placement.create_request(db.session, officer, D - timedelta(days=3), make.case(identified_on=date(2026, 4, 1)),
                             settings)
    record = actions.create_action(db.session, sec, D, {"title": "Tell the police S exists", "owner": make.org().code,
                                                        "due_on": date(2026, 6, 30), "shelters": ["S"]})
    placement.create_request(db.session, officer, D + timedelta(hours=1), make.case(identified_on=date(2026, 4, 1)),
                             settings)
    chosen = placement.create_request(db.session, officer, D + timedelta(hours=2),
                                      make.case(identified_on=date(2026, 4, 1)), settings)
    placement.reserve(db.session, officer, D + timedelta(hours=2), chosen, "S", settings)
    placement.accept(db.session, manager, D + timedelta(hours=2), chosen, settings)
    placement.admit(db.session, manager, D + timedelta(hours=3), chosen)
    db.session.commit()

    (ba,) = actions.before_after(db.session, record, D + timedelta(days=10), days=10)
    assert ba.before.utilisation == pytest.approx(3 / 20)
    assert (ba.before.requests, ba.before.eligible, ba.before.chosen, ba.before.admitted) == (1, 1, 0, 0)
    assert ba.after.utilisation == pytest.approx(10 / 20)
    assert (ba.after.requests, ba.after.eligible, ba.after.chosen, ba.after.admitted) == (2, 2, 1, 1)
    # On the day it was recorded, there is no "since" yet.
    (fresh,) = actions.before_after(db.session, record, D, days=10)
    assert fresh.after is None
    logged = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "action")).all()
    assert logged == ["action.create"]


def _alert(kind: str, shelter) -> Alert:  # noqa: ANN001
    alert_services.upsert(db.session, D, [Decision(kind, "shelter", shelter.code, "warning", "empty",
                                                   shelter=shelter.code)], [kind])
    db.session.commit()
    return db.session.scalar(select(Alert).where(Alert.kind == kind))


def test_resolving_an_empty_shelter_alert_records_or_links_an_action(app, make):
    make._now = D
    s = make.shelter("S", capacity=2)
    sec, org = make.user("secretariat"), make.org()
    unused = _alert("unused_facility", s)
    record = actions.resolve_alert_with_action(db.session, sec, D, unused, "the police do not know it",
                                               values={"title": "Brief the border police", "owner": org.code,
                                                       "due_on": "2026-07-01"})
    db.session.commit()
    assert unused.status == "resolved" and [a.id for a in record.alerts] == [unused.id]
    assert [x.code for x in record.shelters] == ["S"]  # the alert's shelter comes with it
    low = _alert("low_utilisation", s)
    linked = actions.resolve_alert_with_action(db.session, sec, D, low, "same cause", action_id=record.id)
    assert linked.id == record.id and sorted(a.id for a in linked.alerts) == sorted([unused.id, low.id])
    with pytest.raises(Invalid) as refused:
        actions.create_action(db.session, sec, D, {"title": "", "owner": org.code, "due_on": "2026-07-01"})
    assert "title" in refused.value.fields
    with pytest.raises(Invalid) as refused:
        actions.create_action(db.session, sec, D, {"title": "x", "owner": "NOPE", "due_on": "2026-07-01"})
    assert "owner" in refused.value.fields
    assert db.session.scalar(select(Action).where(Action.title == "x")) is None


def test_the_plan_page_records_an_action_and_shows_it(app, make, client, pages):
    s = make.shelter("S", capacity=2)
    org = make.org(name="Border Police")
    make.user("secretariat", username="sec-plan")
    pages.login("sec-plan")
    response = pages.post("/overview/actions", {"title": "Brief the airport unit", "owner": org.code,
                                                "due_on": "2026-12-31", "shelters": ["S"]},
                          from_page="/overview/actions")
    assert response.status_code == 302
    html = client.get("/overview/actions").get_data(as_text=True)
    assert "Brief the airport unit" in html and "Border Police" in html and s.code in html
    refused = pages.post("/overview/actions", {"title": "", "owner": org.code, "due_on": "2026-12-31"},
                         from_page="/overview/actions")
    assert refused.status_code == 422


def test_the_plan_is_exported_beside_the_overview_and_the_export_is_audited(app, make, client, pages):
    make.shelter("S", capacity=2)
    org = make.org(name="Border Police")
    sec = make.user("secretariat", username="sec-export")
    actions.create_action(db.session, sec, make.now(), {"title": "=cmd|' /C calc'!A0", "owner": org.code,
                                                        "due_on": "2026-12-31", "shelters": ["S"]})
    db.session.commit()
    pages.login("sec-export")
    assert 'href="/overview/actions.csv"' in client.get("/overview").get_data(as_text=True)
    lines = client.get("/overview/actions.csv").get_data(as_text=True).splitlines()
    assert lines[0].startswith("action,title,owner,due_on,status,alerts,shelter,utilisation_before")
    assert ",'=cmd" in lines[1] and ",S," in lines[1]  # a formula is made inert
    exported = db.session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "report.export")).all()
    assert exported == ["actions"]
