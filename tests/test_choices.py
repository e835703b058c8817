"""Issue 16: every reason, outcome and status choice starts on an empty "Choose..." and is required. A form sent
without a choice is refused naming the field, and writes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from extensions import db
from placement import services as placement_services
from placement.models import PlacementRequest
from shelters.models import Case, Stay
from tests.fixtures.pages import body

PROFILE = {"sex": "female", "age": "22", "nationality": "md", "languages": "ro", "children": "0",
           "risk": "medium", "region": "Prishtinë", "urgency": "emergency"}


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def first_option(html: str, select_id: str) -> str:
    """The first <option> of the select with this id, and whether anything is selected at all."""
    match = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert match, select_id
    return match.group(1)


def assert_starts_empty(html: str, select_id: str) -> None:
    options = first_option(html, select_id)
    assert options.lstrip().startswith('<option value="">Choose...</option>'), options[:120]
    assert "selected" not in options, options  # the browser shows the first, empty, option


@pytest.fixture
def pvpt(make):
    return make.shelter("PVPT", name="Qendra PVPT", capacity=5, children_capacity=2)


def test_discharge_without_a_reason_is_refused_and_writes_nothing(client, pages, make, pvpt):
    manager = make.manager(pvpt)
    case = make.reserved(pvpt, make.case(), status="accepted").case
    pages.login(manager.username)
    assert pages.post("/shelters/PVPT/admit", {"case_code": case.code}, from_page="/shelters/PVPT").status_code == 302
    stay = db.session.scalar(select(Stay).where(Stay.case_id == case.id))
    html = body(client.get("/shelters/PVPT"))
    assert_starts_empty(html, f"discharge-{stay.id}-reason")
    for data in ({}, {"reason": ""}, {"reason": "", "note": "moved"}):
        response = pages.post(f"/stays/{stay.id}/discharge", data)
        assert response.status_code == 422, data
        assert f'id="discharge-{stay.id}-reason-errors"' in body(response)
        assert "Choose one." in body(response)
    db.session.expire_all()
    assert db.session.get(Stay, stay.id).discharged_at is None


def test_decline_without_a_reason_is_refused_and_writes_nothing(client, pages, make, pvpt, app, now):
    officer = make.user("police")
    settings = placement_services.Settings.from_config(app.config)
    req = placement_services.create_request(db.session, officer, now, make.case(officer), settings)
    placement_services.reserve(db.session, officer, now, req, "PVPT", settings)
    db.session.commit()
    pages.login(officer.username)
    html = body(client.get(f"/placements/{req.id}"))
    assert_starts_empty(html, "decline-reason")
    response = pages.post(f"/placements/{req.id}/decline", {"reason": "", "note": "afraid"})
    assert response.status_code == 422 and 'id="decline-reason-errors"' in body(response)
    assert "afraid" in body(response)  # what was typed stays
    db.session.expire_all()
    assert db.session.get(PlacementRequest, req.id).status == "reserved"


@pytest.mark.parametrize("missing", ["urgency", "sex", "risk"])
def test_a_request_without_a_chosen_urgency_sex_or_risk_is_refused(client, pages, make, pvpt, missing):
    officer = make.user("police")
    pages.login(officer.username)
    html = body(client.get("/placements/new"))
    for name in ("urgency", "sex", "risk"):
        assert_starts_empty(html, name)
    assert html.index('id="urgency"') < html.index('id="sex"')  # triage first
    cases, requests = count(Case), count(PlacementRequest)
    response = pages.post("/placements/new", PROFILE | {missing: ""}, from_page="/placements/new")
    assert response.status_code == 422 and f'id="{missing}-errors"' in body(response)
    assert (count(Case), count(PlacementRequest)) == (cases, requests)


@pytest.mark.parametrize("missing", ["sex", "risk"])
def test_a_case_without_a_chosen_sex_or_risk_is_refused(client, pages, make, missing):
    pages.login(make.user("police").username)
    html = body(client.get("/cases/new"))
    assert_starts_empty(html, missing)
    cases = count(Case)
    data = {k: v for k, v in PROFILE.items() if k != "urgency"} | {missing: ""}
    response = pages.post("/cases/new", data, from_page="/cases/new")
    assert response.status_code == 422 and f'id="{missing}-errors"' in body(response)
    assert count(Case) == cases


@pytest.mark.parametrize(("language", "country", "romanian"), [
    ("en", "Moldova", "Romanian"), ("sq", "Moldavi", "rumanisht"), ("sr", "Moldavija", "rumunski")])
def test_nationality_and_languages_are_named_in_the_readers_language_and_sent_as_codes(
        client, pages, make, language, country, romanian):
    pages.login(make.user("police").username)
    html = body(client.get("/cases/new", headers={"Accept-Language": language}))
    assert f'<option value="MD">{country}</option>' in html and f'<option value="ro">{romanian}</option>' in html
    assert '<option value="XK">' in html and '<option value="EU">' not in html  # countries, not groupings
    data = {k: v for k, v in PROFILE.items() if k != "urgency"} | {"nationality": "MD", "languages": ["ro", "ru"]}
    response = pages.post("/cases/new", data, from_page="/cases/new")
    assert response.status_code == 302, body(response)
    db.session.expire_all()
    case = db.session.scalar(select(Case).order_by(Case.id.desc()))
    assert (case.nationality, case.languages) == ("MD", ["ro", "ru"])
    response = pages.post("/cases/new", data | {"nationality": "Moldova"}, from_page="/cases/new")
    assert response.status_code == 422 and 'id="nationality-errors"' in body(response)
