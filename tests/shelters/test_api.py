"""The shelters API: success paths and every refusal, in the contract's error shape."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from extensions import db


@pytest.fixture
def pvpt(make, now):
    return make.shelter("PVPT", capacity=5, opened_on=(now - timedelta(days=30)).date())


@pytest.fixture
def hah(make):
    return make.shelter("HAH", capacity=8, region="Prizren")


def error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


def test_no_token_is_401_and_a_bad_token_too(client, pvpt, api_as, make):
    assert error(client.get("/api/v1/shelters"))["code"] == "unauthorized"
    bad = client.get("/api/v1/shelters", headers={"Authorization": "Bearer shv_nope"})
    assert bad.status_code == 401


def test_a_page_session_does_not_open_the_api(client, pages, make, pvpt):
    user = make.user("secretariat")
    pages.login(user.username)
    assert client.get("/api/v1/shelters").status_code == 401


def test_list_shows_figures_and_no_addresses(api_as, make, pvpt):
    for _ in range(4):
        make.stay(pvpt)
    body = api_as(make.user("police")).get("/shelters").get_json()
    (row,) = body["shelters"]
    assert (row["code"], row["capacity"], row["occupied"], row["reserved"], row["available"]) == ("PVPT", 5, 4, 0, 1)
    assert "address" not in row and "residents" not in row


def test_partner_sees_aggregates_only(api_as, make, now):
    for code in ("PVPT", "P2", "P3"):
        make.shelter(code, capacity=5, created_at=now - timedelta(days=1))
    make.shelter("HAH", capacity=8, region="Prizren", created_at=now - timedelta(days=1))
    body = api_as(make.user("partner")).get("/shelters").get_json()
    assert body["shelters"] == []
    # Prizren's one shelter is in no group of three (tests/insider/test_partners.py holds the rule).
    assert [(r["region"], r["shelters"], r["capacity"]) for r in body["regions"]] == [("Prishtinë", 3, 15)]
    assert body["as_of"] == datetime.combine(now.date(), time(), UTC).isoformat()
    assert api_as(make.user("partner")).get("/shelters/PVPT").status_code == 403


@pytest.mark.parametrize(("role", "sees_location", "sees_residents"), [
    ("admin", False, False), ("secretariat", True, True), ("police", False, False),
])
def test_detail_by_role(api_as, make, pvpt, role, sees_location, sees_residents):
    make.stay(pvpt)
    body = api_as(make.user(role)).get("/shelters/PVPT").get_json()
    for field in ("address", "telephone", "municipality", "lat", "lon"):
        assert (field in body) is sees_location, field
    assert ("residents" in body) is sees_residents


def test_manager_sees_own_residents_and_404_for_others(api_as, make, pvpt, hah):
    stay = make.stay(hah)
    api = api_as(make.manager(pvpt))
    assert "residents" in api.get("/shelters/PVPT").get_json()
    assert "residents" not in api.get("/shelters/HAH").get_json()
    assert api.get("/shelters/HAH/residents").status_code == 404
    assert api.get(f"/cases/{stay.case.code}").status_code == 404
    assert api.post(f"/stays/{stay.id}/discharge", json={"reason": "repatriated"}).status_code == 404
    assert api.post("/shelters/HAH/stays", json={"case_code": make.case().code}).status_code == 404
    assert api.post("/shelters/HAH/headcount", json={"occupied": 1}).status_code == 404


def test_create_shelter(api_as, make):
    api = api_as(make.user("admin"))
    response = api.post("/shelters", json={"code": "ISF", "name": "Interim Security Facility", "region": "Mitrovicë",
                                           "capacity": 6, "sexes": ["female", "male"], "security": "high"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["code"], body["available"], body["version"]) == ("ISF", 6, 1)
    assert api.post("/shelters", json={"code": "ISF", "name": "x", "region": "y", "capacity": 1}).status_code == 409


@pytest.mark.parametrize(("payload", "field"), [
    ({"capacity": -1}, "capacity"),
    ({"capacity": "five"}, "capacity"),
    ({"capacity": 10**12}, "capacity"),
    ({"code": "../etc"}, "code"),
    ({"sexes": ["other"]}, "sexes"),
    ({"name": "x" * 500}, "name"),
    ({"lat": 200}, "lat"),
    ({"unexpected": 1}, "unexpected"),
])
def test_create_shelter_bad_input_names_the_field(api_as, make, payload, field):
    base = {"code": "NEW", "name": "New", "region": "Pejë", "capacity": 3}
    response = api_as(make.user("admin")).post("/shelters", json=base | payload)
    assert response.status_code == 422
    assert field in error(response)["fields"]


def test_malformed_json_is_400(client, make):
    token = make.token(make.user("admin"))
    response = client.post("/api/v1/shelters", data="{not json", content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert error(response)["code"] == "bad_request"


def test_create_shelter_needs_admin_or_secretariat(api_as, make):
    for role in ("police", "shelter_manager", "partner"):
        response = api_as(make.user(role)).post("/shelters", json={"code": "X", "name": "x", "region": "y",
                                                                    "capacity": 1})
        assert response.status_code == 403, role


def test_html_in_names_is_stored_as_text_and_returned_as_json(api_as, make):
    api = api_as(make.user("admin"))
    name = "<script>alert(1)</script>"
    assert api.post("/shelters", json={"code": "XSS", "name": name, "region": "r", "capacity": 1}).status_code == 201
    assert api.get("/shelters/XSS").get_json()["name"] == name


def test_patch_with_version_and_stale_version(api_as, make, pvpt):
    api = api_as(make.user("secretariat"))
    ok = api.patch("/shelters/PVPT", json={"version": 1, "out_of_service": 1})
    assert ok.status_code == 200 and ok.get_json()["version"] == 2 and ok.get_json()["available"] == 4
    stale = api.patch("/shelters/PVPT", json={"version": 1, "out_of_service": 2})
    assert stale.status_code == 409
    assert error(stale)["code"] == "stale_version"
    assert api.patch("/shelters/PVPT", json={"out_of_service": 2}).status_code == 422  # version required


def test_manager_patches_capacity_fields_of_own_shelter_only(api_as, make, pvpt, hah):
    api = api_as(make.manager(pvpt))
    assert api.patch("/shelters/PVPT", json={"version": 1, "out_of_service": 1}).status_code == 200
    refused = api.patch("/shelters/PVPT", json={"version": 2, "name": "Mine now"})
    assert refused.status_code == 403 and "name" in error(refused)["fields"]
    assert api.patch("/shelters/HAH", json={"version": 1, "out_of_service": 1}).status_code == 404


def test_capacity_below_occupancy_is_409_with_figures_then_saved_with_overflow(api_as, make, pvpt):
    for _ in range(4):
        make.stay(pvpt)
    api = api_as(make.user("secretariat"))
    refused = api.patch("/shelters/PVPT", json={"version": 1, "capacity": 3})
    assert refused.status_code == 409
    assert error(refused)["occupied"] == 4 and error(refused)["overflow"] == 1
    saved = api.patch("/shelters/PVPT", json={"version": 1, "capacity": 3, "accept_overflow": True})
    assert saved.status_code == 200 and saved.get_json()["overflow"] == 1 and saved.get_json()["available"] == 0


def test_admit_and_discharge_round_trip(api_as, make, pvpt, now):
    api = api_as(make.manager(pvpt))
    case = make.case(identified_on=(now - timedelta(days=2)).date())
    request = make.reserved(pvpt, case)  # a manager admits what a request holds a bed for
    admitted = api.post("/shelters/PVPT/stays", json={"case_code": case.code,
                                                      "admitted_at": (now - timedelta(days=1)).isoformat()})
    assert admitted.status_code == 201, admitted.get_json()
    stay_id = admitted.get_json()["stay_id"]
    db.session.refresh(request)
    assert (request.status, request.stay_id) == ("admitted", stay_id)  # the admission consumed the request's hold
    assert api.get("/shelters/PVPT").get_json()["occupied"] == 1
    again = api_as(make.user("secretariat")).post("/shelters/PVPT/stays", json={"case_code": case.code})
    assert again.status_code == 409 and error(again)["code"] == "case_already_placed"
    discharged = api.post(f"/stays/{stay_id}/discharge", json={"reason": "reintegrated"})
    assert discharged.status_code == 200 and discharged.get_json()["discharge_reason"] == "reintegrated"
    assert api.post(f"/stays/{stay_id}/discharge", json={"reason": "reintegrated"}).status_code == 409
    assert api.get("/shelters/PVPT").get_json()["occupied"] == 0


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"case_code": "VOT-00-NOPE00"}, 404, "case_code"),
    ({}, 422, "case_code"),
    ({"case_code": "x", "admitted_at": "yesterday"}, 422, "admitted_at"),
    ({"case_code": "x", "admitted_at": "2026-01-01T10:00:00"}, 422, "admitted_at"),  # no offset
])
def test_admit_bad_input(api_as, make, pvpt, payload, status, field):
    response = api_as(make.manager(pvpt)).post("/shelters/PVPT/stays", json=payload)
    assert response.status_code == status
    assert field in error(response)["fields"]


def test_admit_in_the_future_is_422(api_as, make, pvpt, now):
    response = api_as(make.manager(pvpt)).post("/shelters/PVPT/stays", json={
        "case_code": make.reserved(pvpt).case.code, "admitted_at": (now + timedelta(hours=2)).isoformat()})
    assert response.status_code == 422 and "admitted_at" in error(response)["fields"]


def test_admit_into_full_or_closed_shelter_is_409(api_as, make):
    full = make.shelter("FULL", capacity=1)
    make.shelter("SHUT", status="closed")
    make.stay(full)
    api = api_as(make.user("secretariat"))
    assert error(api.post("/shelters/FULL/stays", json={"case_code": make.case().code}))["code"] == "shelter_full"
    assert error(api.post("/shelters/SHUT/stays", json={"case_code": make.case().code}))["code"] == "shelter_not_open"


def test_discharge_other_needs_a_note(api_as, make, pvpt):
    stay = make.stay(pvpt)
    api = api_as(make.manager(pvpt))
    response = api.post(f"/stays/{stay.id}/discharge", json={"reason": "other"})
    assert response.status_code == 422 and "note" in error(response)["fields"]
    assert api.post(f"/stays/{stay.id}/discharge", json={"reason": "gone"}).status_code == 422


def test_headcount_match_and_mismatch(api_as, make, pvpt):
    make.stay(pvpt)
    api = api_as(make.manager(pvpt))
    mismatch = api.post("/shelters/PVPT/headcount", json={"occupied": 2})
    assert mismatch.status_code == 409
    assert (error(mismatch)["reported"], error(mismatch)["recorded"]) == (2, 1)
    ok = api.post("/shelters/PVPT/headcount", json={"occupied": 1})
    assert ok.status_code == 200 and ok.get_json()["recorded"] == 1
    assert api.get("/shelters/PVPT").get_json()["last_headcount_at"] is not None
    assert api_as(make.user("secretariat")).post("/shelters/PVPT/headcount", json={"occupied": 1}).status_code == 403


def test_cases_are_scoped(api_as, make, pvpt):
    officer, other_officer = make.user("police"), make.user("police")
    created = api_as(officer).post("/cases", json={"sex": "female", "age": 19, "nationality": "MD",
                                                   "needs": ["psychological"], "risk": "high"})
    assert created.status_code == 201
    code = created.get_json()["case_code"]
    assert api_as(officer).get(f"/cases/{code}").get_json()["needs"] == ["psychological"]
    assert api_as(other_officer).get(f"/cases/{code}").status_code == 404
    assert api_as(make.user("admin")).get(f"/cases/{code}").status_code == 403
    assert api_as(make.user("secretariat")).get(f"/cases/{code}").status_code == 200
    assert api_as(make.manager(pvpt)).post("/cases", json={"sex": "female", "age": 19,
                                                           "nationality": "MD"}).status_code == 403


@pytest.mark.parametrize(("payload", "field"), [
    ({"age": -1}, "age"), ({"age": "old"}, "age"), ({"nationality": "moldova"}, "nationality"),
    ({"needs": ["x"]}, "needs"), ({"children": 99}, "children"), ({"identified_on": "2999-01-01"}, "identified_on"),
    ({"age": None}, "age"),
])
def test_case_bad_input(api_as, make, payload, field):
    base = {"sex": "female", "age": 20, "nationality": "AL"}
    response = api_as(make.user("police")).post("/cases", json=base | payload)
    assert response.status_code == 422, response.get_json()
    assert field in error(response)["fields"]


def test_openapi_document_is_generated_and_public(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/shelters/{code}/headcount" in doc["paths"]
    assert "bearerAuth" in doc["components"]["securitySchemes"]


def test_the_role_gate_comes_before_the_body(api_as, make):
    """A role that may not use a route learns nothing from its validation: 403 whatever it sends."""
    police = api_as(make.user("police"))
    assert police.post("/shelters", json={}).status_code == 403
    assert police.post("/shelters", json={"capacity": "x"}).status_code == 403
    assert api_as(make.user("partner")).post("/cases", json={"age": -5}).status_code == 403


def test_the_list_answers_each_shelter_as_the_schema_dumps_it(api_as, make, now):
    """The list is built from plain columns without marshmallow: each row must be exactly what ShelterOut
    makes of the same shelter (operator, lists, figures, holds, headcount time, utilisation)."""
    import json

    from extensions import db
    from shelters import schemas, services
    from shelters.api import shelter_json

    operator = make.org(code="OPR")
    full = make.shelter("FULL", capacity=4, out_of_service=1, operator="OPR", sexes=["female", "male"],
                        services=["medical", "legal"], languages=["sq", "sr", "en"], lat=42.66, lon=21.17,
                        municipality="Prishtinë", created_at=now - timedelta(days=40))
    make.shelter("BARE", capacity=2, services=[], languages=[])
    make.stay(full, make.case(children=1, identified_on=(now - timedelta(days=12)).date()),
              admitted_at=now - timedelta(days=12))
    services.hold_beds(db.session, None, now, full, 1, now + timedelta(hours=2))
    services.confirm_headcount(db.session, make.manager(full), now, full, 2)
    db.session.commit()
    assert operator.code == "OPR"

    body = api_as(make.user("secretariat")).get("/shelters").get_json()
    expected = [json.loads(json.dumps(schemas.ShelterOut().dump(shelter_json(view)), default=str))
                for view in services.list_shelters(db.session, now)]
    assert body["shelters"] == expected
    row = body["shelters"][1]
    assert (row["code"], row["operator"], row["occupied"], row["reserved"], row["available"]) == ("FULL", "OPR", 2, 1, 0)
    assert row["last_headcount_at"] is not None and row["utilisation_30d"] > 0


def test_admit_and_discharge_answer_times_in_utc_whatever_offset_was_sent(api_as, make, pvpt, now):
    api = api_as(make.user("secretariat"))
    case = make.case(identified_on=(now - timedelta(hours=5)).date())
    admitted = (now - timedelta(hours=5)).astimezone(timezone(timedelta(hours=2))).replace(microsecond=0)
    stay = api.post("/shelters/PVPT/stays", json={"case_code": case.code, "admitted_at": admitted.isoformat()})
    assert stay.status_code == 201
    assert stay.get_json()["admitted_at"] == admitted.astimezone(UTC).isoformat()
    discharged = (now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))).replace(microsecond=0)
    done = api.post(f"/stays/{stay.get_json()['stay_id']}/discharge",
                    json={"reason": "reintegrated", "discharged_at": discharged.isoformat()})
    assert done.status_code == 200
    assert done.get_json()["discharged_at"] == discharged.astimezone(UTC).isoformat()
    assert done.get_json()["admitted_at"] == admitted.astimezone(UTC).isoformat()
