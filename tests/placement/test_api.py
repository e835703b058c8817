"""The placement API end to end: police request and reserve, the manager accepts and admits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from flask import jsonify

from extensions import db
from placement import schemas
from placement.api import placement_response
from placement.engine import banded_suggestions
from placement.models import PlacementRequest


@pytest.fixture
def pvpt(make):
    return make.shelter("PVPT", capacity=5, address="(test) Rruga 1")


def test_police_to_admission_through_the_api(api_as, make, pvpt):
    officer = make.user("police")
    police, manager = api_as(officer), api_as(make.manager(pvpt))
    case = police.post("/cases", json={"sex": "female", "age": 22, "nationality": "MD", "languages": ["ro"],
                                       "region": "Prishtinë"}).get_json()["case_code"]
    created = police.post("/placements", json={"case_code": case, "urgency": "emergency"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "open" and body["suggestions"][0]["shelter"] == "PVPT"
    assert set(body["suggestions"][0]["terms"]) == {"distance", "language", "services", "utilisation"}
    request_id = body["id"]

    reserved = police.post(f"/placements/{request_id}/reserve", json={"shelter": "PVPT"}).get_json()
    assert reserved["status"] == "reserved" and reserved["expires_at"]
    assert "address" not in reserved
    assert police.get("/shelters/PVPT").get_json()["reserved"] == 1

    assert police.post(f"/placements/{request_id}/accept").status_code == 403  # never their own
    incoming = manager.get("/placements").get_json()["placements"]
    assert [p["id"] for p in incoming] == [request_id]
    assert manager.get(f"/placements/{request_id}").get_json()["profile"]["languages"] == ["ro"]
    assert manager.post(f"/placements/{request_id}/accept").get_json()["status"] == "accepted"
    assert police.get(f"/placements/{request_id}").get_json()["address"] == "(test) Rruga 1"

    admitted = manager.post(f"/placements/{request_id}/admit")
    assert admitted.get_json()["status"] == "admitted" and admitted.get_json()["stay_id"]
    assert "address" not in police.get(f"/placements/{request_id}").get_json()  # closed: address gone
    shelter = manager.get("/shelters/PVPT").get_json()
    assert (shelter["occupied"], shelter["reserved"], shelter["available"]) == (1, 0, 4)
    assert manager.post(f"/placements/{request_id}/admit").status_code == 409


def test_other_officers_and_managers_see_nothing(api_as, make, pvpt):
    officer = make.user("police")
    request_id = api_as(officer).post("/placements", json={"case_code": make.case(officer).code}).get_json()["id"]
    assert api_as(make.user("police")).get(f"/placements/{request_id}").status_code == 404
    assert api_as(make.manager(pvpt)).get(f"/placements/{request_id}").status_code == 404  # not addressed yet
    assert api_as(make.user("police")).post("/placements", json={
        "case_code": make.case(officer).code}).status_code == 404  # someone else's case


def test_reserve_refusals(api_as, make, pvpt):
    officer = make.user("police")
    api = api_as(officer)
    request_id = api.post("/placements", json={"case_code": make.case(officer).code}).get_json()["id"]
    assert api.post(f"/placements/{request_id}/reserve", json={"shelter": "NOPE"}).status_code == 404
    assert api.post(f"/placements/{request_id}/reserve", json={}).status_code == 422
    closed = make.shelter("SHUT", status="closed")
    response = api.post(f"/placements/{request_id}/reserve", json={"shelter": closed.code})
    assert response.status_code == 409


def test_empty_suggestions_say_why(api_as, make):
    make.shelter("MEN", sexes=["male"])
    officer = make.user("police")
    body = api_as(officer).post("/placements", json={"case_code": make.case(officer).code}).get_json()
    assert body["suggestions"] == [] and body["why_empty"] == {"sex": 1}


def test_decline_with_reason_and_bad_reason(api_as, make, pvpt):
    officer = make.user("police")
    api = api_as(officer)
    request_id = api.post("/placements", json={"case_code": make.case(officer).code}).get_json()["id"]
    assert api.post(f"/placements/{request_id}/decline", json={"reason": "bored"}).status_code == 422
    declined = api.post(f"/placements/{request_id}/decline", json={"reason": "wants_to_return_home"})
    assert declined.get_json()["status"] == "declined"


def _reserved(api_as, make, pvpt):
    officer = make.user("police")
    police = api_as(officer)
    request_id = police.post("/placements", json={"case_code": make.case(officer).code}).get_json()["id"]
    assert police.post(f"/placements/{request_id}/reserve", json={"shelter": "PVPT"}).status_code == 200
    return police, request_id


def test_reject_with_a_code_and_a_note(api_as, make, pvpt):
    police, request_id = _reserved(api_as, make, pvpt)
    manager = api_as(make.manager(pvpt))
    path = f"/placements/{request_id}/reject"
    for bad, field in (({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "x" * 501}, "reason"),
                       ({"reason": "no_free_bed", "note": "x" * 1001}, "note")):
        answer = manager.post(path, json=bad)
        assert answer.status_code == 422 and field in answer.get_json()["error"]["fields"], (bad, answer.get_json())
    other = manager.post(path, json={"reason": "other"})
    assert other.status_code == 422 and other.get_json()["error"]["fields"] == {"note": "required for other"}
    assert police.get(f"/placements/{request_id}").get_json()["status"] == "reserved"  # nothing half-written
    rejected = manager.post(path, json={"reason": "no_staff_available", "note": "two on sick leave"})
    assert rejected.status_code == 200
    body = police.get(f"/placements/{request_id}").get_json()
    assert (body["status"], body["reason"], body["note"]) == ("rejected", "no_staff_available", "two on sick leave")
    assert (body["timeline"][-1]["reason"], body["timeline"][-1]["note"]) == ("no_staff_available",
                                                                               "two on sick leave")
    assert [e["reason"] for e in body["timeline"][:-1]] == [None] * (len(body["timeline"]) - 1)


def test_the_contracts_free_text_reason_is_kept_as_the_note_under_other(api_as, make, pvpt):
    police, request_id = _reserved(api_as, make, pvpt)
    rejected = api_as(make.manager(pvpt)).post(f"/placements/{request_id}/reject", json={"reason": " full tonight "})
    assert rejected.status_code == 200
    body = police.get(f"/placements/{request_id}").get_json()
    assert (body["reason"], body["note"]) == ("other", "full tonight")
    assert (body["timeline"][-1]["reason"], body["timeline"][-1]["note"]) == ("other", "full tonight")


def test_batch_is_for_the_secretariat(api_as, make, pvpt):
    officer = make.user("police")
    api_as(officer).post("/placements", json={"case_code": make.case(officer).code})
    assert api_as(officer).post("/placements/batch").status_code == 403
    result = api_as(make.user("secretariat")).post("/placements/batch").get_json()
    assert result["placed"] == 1 and result["optimal"] is True


def test_the_answer_is_the_schemas_and_the_ranking_as_stored(api_as, make, pvpt):
    make.shelter("MEN", sexes=["male"])
    officer = make.user("police")
    api = api_as(officer)
    created = api.post("/placements", json={"case_code": make.case(officer).code})
    assert created.status_code == 201 and created.mimetype == "application/json"
    body = created.get_json()
    assert [s["shelter"] for s in body["suggestions"]] == ["PVPT"]
    assert body["excluded"] == [{"shelter": "MEN", "reasons": ["does not take women"], "codes": ["sex"],
             "values": [{"sex": "female", "minor": False}]}]
    shown = api.get(f"/placements/{body['id']}").get_json()
    assert (shown["suggestions"], shown["excluded"]) == (body["suggestions"], body["excluded"])
    stored = db.session.get(PlacementRequest, body["id"])
    # The officer reads the distances in bands; the secretariat reads the ranking exactly as stored.
    assert (banded_suggestions(stored.suggestions, 30), stored.excluded) == (body["suggestions"], body["excluded"])
    exact = api_as(make.user("secretariat")).get(f"/placements/{body['id']}").get_json()
    assert (stored.suggestions, stored.excluded) == (exact["suggestions"], exact["excluded"])


def test_the_ranking_skips_marshmallow_but_the_answer_is_what_the_schema_gives(app):
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    body = {"id": 7, "case_code": "C-1", "status": "open", "urgency": "urgent", "region": None, "shelter": None,
            "expires_at": None, "stay_id": None, "transfer": False, "reason": None, "note": None,
            "suggestions": [{"shelter": "A", "score": 90, "terms": {"distance": 30, "language": 25, "services": 0,
                                                                     "utilisation": 35}}],
            "excluded": [{"shelter": "B", "reasons": ["does not take women"], "codes": ["sex"],
             "values": [{"sex": "female", "minor": False}]}],
            "why_empty": {"sex": 1}, "created_at": at, "updated_at": at,
            "timeline": [{"at": at, "by": "officer", "from_status": None, "to_status": "open", "shelter": None,
                          "note": None}]}
    with app.test_request_context():
        expected = jsonify(schemas.PlacementOut().dump(body)).get_data()
        answer = placement_response(dict(body), 201)
        assert answer.status_code == 201 and answer.get_data() == expected
        # A new request's ranking arrives as the JSON text it was stored as, and is sent as it is.
        as_text = {key: json.dumps(body[key], sort_keys=True, separators=(",", ":"))
                   for key in ("suggestions", "excluded")}
        answer = placement_response(body | as_text, 201)
        assert answer.mimetype == "application/json" and answer.get_data() == expected
