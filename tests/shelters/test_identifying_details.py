"""A case's optional identifying details: accepted from police and secretariat, shown only to the
secretariat on the case's own page and API answer, each showing audited, never in a list or the log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from accounts.models import AuditEvent
from extensions import db
from shelters.models import Case
from tests.fixtures.pages import audited

DETAILS = "passport MD-0042137"
CASE = {"sex": "female", "age": 19, "nationality": "MD"}


@pytest.fixture
def pvpt(make):
    return make.shelter("PVPT", capacity=5)


def nothing_logged_names_the_details() -> None:
    for event in db.session.scalars(select(AuditEvent)):
        assert "0042137" not in json.dumps([event.object_id, event.detail])


def test_api_shows_the_details_to_the_secretariat_only(api_as, make, pvpt):
    officer, secretariat = make.user("police"), make.user("secretariat")
    created = api_as(officer).post("/cases", json={**CASE, "identifying_details": DETAILS})
    assert created.status_code == 201
    code = created.get_json()["case_code"]
    case = db.session.scalar(select(Case).where(Case.code == code))
    assert case.identifying_details == DETAILS

    # The officer who entered them reads the case, not the details; nor does the manager of its shelter.
    answer = api_as(officer).get(f"/cases/{code}")
    assert answer.status_code == 200 and "identifying_details" not in answer.get_json()
    assert DETAILS not in answer.get_data(as_text=True)
    make.stay(pvpt, case)
    answer = api_as(make.manager(pvpt)).get(f"/cases/{code}")
    assert answer.status_code == 200 and "identifying_details" not in answer.get_json()
    residents = api_as(make.manager(pvpt)).get("/shelters/PVPT/residents")
    assert residents.status_code == 200 and DETAILS not in residents.get_data(as_text=True)
    assert audited("case.identifying_read") == []

    answer = api_as(secretariat).get(f"/cases/{code}")
    assert answer.status_code == 200 and answer.get_json()["identifying_details"] == DETAILS
    (event,) = audited("case.identifying_read")
    assert (event.object_id, event.actor_id) == (code, secretariat.id)
    nothing_logged_names_the_details()


def test_details_are_optional_and_bounded(api_as, make):
    secretariat = make.user("secretariat")
    plain = api_as(secretariat).post("/cases", json=CASE)
    assert plain.status_code == 201
    answer = api_as(secretariat).get(f"/cases/{plain.get_json()['case_code']}").get_json()
    assert answer["identifying_details"] is None and answer["anonymised"] is False
    too_long = api_as(secretariat).post("/cases", json={**CASE, "identifying_details": "x" * 2001})
    assert too_long.status_code == 422 and "identifying_details" in too_long.get_data(as_text=True)
    assert api_as(secretariat).post("/cases", json={**CASE, "identifying_details": "x" * 2000}).status_code == 201


def test_pages_show_the_details_to_the_secretariat_only(client, pages, make, pvpt):
    officer = make.user("police")
    case = make.case(officer, identifying_details=DETAILS)
    make.stay(pvpt, case)
    for user in (officer, make.manager(pvpt)):
        pages.login(user.username)
        page = client.get(f"/cases/{case.code}")
        assert page.status_code == 200 and "0042137" not in page.get_data(as_text=True)
        assert "Identifying details" not in page.get_data(as_text=True)
        pages.post("/logout")
    assert audited("case.identifying_read") == []

    secretariat = make.user("secretariat")
    pages.login(secretariat.username)
    page = client.get(f"/cases/{case.code}")
    assert page.status_code == 200 and DETAILS in page.get_data(as_text=True)
    assert [e.object_id for e in audited("case.identifying_read")] == [case.code]
    board = client.get("/shelters/PVPT")
    assert board.status_code == 200 and "0042137" not in board.get_data(as_text=True)
    nothing_logged_names_the_details()


def test_the_case_form_takes_the_details(client, pages, make):
    pages.login(make.user("secretariat").username)
    form = {"sex": "female", "age": "19", "nationality": "MD", "risk": "medium", "children": "0",
            "identifying_details": f"  {DETAILS} "}
    assert 'name="identifying_details"' in client.get("/cases/new").get_data(as_text=True)
    response = pages.post("/cases/new", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.scalar(select(Case)).identifying_details == DETAILS


@pytest.mark.parametrize("raw", ['"a\\ud800b"', '"a\\u0000b"'])
def test_details_that_are_not_text_are_refused(api_as, make, raw):
    api = api_as(make.user("secretariat"))
    body = '{"sex": "female", "age": 19, "nationality": "MD", "identifying_details": %s}' % raw
    response = api.client.post("/api/v1/cases", data=body,
                               headers={**api._headers(), "Content-Type": "application/json"})
    assert response.status_code == 400  # refused before any handler reads it (odd_input.py)
    assert response.get_json()["error"]["fields"] == {"identifying_details": "invalid characters"}
