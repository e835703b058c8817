"""A shelter that already existed when it was registered: its opening day is entered on the form (or the API),
its capacity history starts then, and the stays of residents who already lived there count against it.
Issue 18's case: registered today, opened weeks ago, residents admitted weeks ago, utilisation must not be null."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from alerts import services as alert_services
from extensions import db
from shelters import figures
from shelters.models import CapacityChange, Shelter
from tests.fixtures.pages import body


def test_the_register_form_takes_an_opening_day_and_history_starts_then(client, pages, make, now):
    pages.login(make.user("secretariat").username)
    opened = (now - timedelta(days=45)).date()
    response = pages.post("/shelters/new", {
        "code": "OLD", "name": "Old shelter", "kind": "ngo", "operator": "", "region": "Pejë", "capacity": "6",
        "out_of_service": "0", "sexes": "female", "ages": "adults", "children_capacity": "0", "languages": "sq",
        "security": "standard", "status": "open", "opened_on": opened.isoformat()}, from_page="/shelters/new")
    assert response.status_code == 302, body(response)
    shelter = db.session.scalar(select(Shelter).where(Shelter.code == "OLD"))
    assert shelter.opened_on == opened
    first = db.session.scalar(select(CapacityChange.effective_at).where(CapacityChange.shelter_id == shelter.id)
                              .order_by(CapacityChange.effective_at).limit(1))
    assert first.date() == opened


def test_the_form_refuses_an_opening_day_in_the_future_beside_the_field(client, pages, make, now):
    pages.login(make.user("secretariat").username)
    response = pages.post("/shelters/new", {
        "code": "NEW", "name": "New", "kind": "ngo", "operator": "", "region": "Pejë", "capacity": "6",
        "out_of_service": "0", "sexes": "female", "ages": "adults", "children_capacity": "0", "languages": "sq",
        "security": "standard", "status": "open", "opened_on": (now + timedelta(days=3)).date().isoformat()},
        from_page="/shelters/new")
    assert response.status_code == 422
    assert re.search(r'id="opened_on"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="opened_on"', body(response)) \
        or "opened_on cannot be in the future" in body(response)
    assert db.session.scalar(select(Shelter).where(Shelter.code == "NEW")) is None


def test_the_board_refuses_an_admission_before_the_opening_day_naming_the_field(client, pages, make, now):
    shelter = make.shelter("PVPT", opened_on=(now - timedelta(days=5)).date())
    case = make.case(identified_on=(now - timedelta(days=30)).date())
    pages.login(make.user("secretariat").username)
    response = pages.post("/shelters/PVPT/admit", {
        "case_code": case.code, "admitted_at": (now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")},
        from_page="/shelters/PVPT")
    assert response.status_code == 422
    assert "admitted_at is before the shelter opened" in body(response)
    assert shelter.opened_on.isoformat() in body(response)


def test_a_shelter_registered_today_with_residents_of_weeks_ago_has_a_utilisation(api_as, make, now):
    # Registered now, opened 60 days ago; three residents admitted 30 days ago (the 90 bed-nights).
    shelter = make.shelter("LATE", capacity=10, opened_on=(now - timedelta(days=60)).date())
    for _ in range(3):
        make.stay(shelter, admitted_at=now - timedelta(days=30))
    line = figures.utilisation(db.session, now, 30, [shelter.id])[shelter.id]
    assert line.bed_nights_occupied == 90 and line.bed_nights_available == 300
    assert line.ratio == 0.3
    rows = api_as(make.user("secretariat")).get("/stats/utilisation?days=30").get_json()["shelters"]
    assert [r["utilisation"] for r in rows if r["code"] == "LATE"] == [0.3]
    # And the figure the alert rules read is the same one.
    assert alert_services.utilisation_rows(db.session, now, 30, [shelter.id])[0].utilisation == 0.3


def test_utilisation_is_never_null_for_a_shelter_with_usable_beds_in_the_window(make, now):
    opened_yesterday = make.shelter("NEW", capacity=4, opened_on=(now - timedelta(days=1)).date())
    opened_today = make.shelter("TODAY", capacity=4)
    lines = figures.utilisation(db.session, now, 30, [opened_yesterday.id, opened_today.id])
    assert lines[opened_yesterday.id].ratio == 0.0  # one night of 4 usable beds, none taken
    assert opened_today.id not in lines or lines[opened_today.id].ratio is None  # no night yet: nothing to divide
