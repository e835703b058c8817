"""The API's HTTP conventions (rest.py): what an integrator's HTTP library expects of every answer."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def secretariat(api_as, make):
    return api_as(make.user("secretariat"))


def test_401_names_the_bearer_scheme(client):
    missing = client.get("/api/v1/shelters")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="Safe Haven API"'
    bad = client.get("/api/v1/shelters", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == 'Bearer realm="Safe Haven API", error="invalid_token"'
    assert bad.get_json()["error"]["code"] == "unauthorized"


def test_405_lists_the_allowed_methods(secretariat):
    answer = secretariat.client.delete("/api/v1/shelters", headers=secretariat._headers())
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert answer.get_json()["error"]["code"] == "method_not_allowed"


def test_201_says_where_the_new_thing_is_read(secretariat, make, api_as):
    shelter = secretariat.post("/shelters", json={"code": "NEW", "name": "New", "region": "Prishtinë",
                                                  "capacity": 4})
    assert shelter.status_code == 201 and shelter.headers["Location"] == "/api/v1/shelters/NEW"
    assert secretariat.get(shelter.headers["Location"].removeprefix("/api/v1")).status_code == 200

    case = secretariat.post("/cases", json={"sex": "female", "age": 30, "nationality": "AL", "region": "Prishtinë"})
    code = case.get_json()["case_code"]
    assert case.status_code == 201 and case.headers["Location"] == f"/api/v1/cases/{code}"

    placement = secretariat.post("/placements", json={"case_code": code})
    assert placement.status_code == 201
    assert placement.headers["Location"] == f"/api/v1/placements/{placement.get_json()['id']}"

    admin = api_as(make.user("admin"))
    org = admin.post("/organisations", json={"code": "NGO1", "name": "An NGO", "kind": "ngo"})
    assert org.status_code == 201 and org.headers["Location"] == "/api/v1/organisations/NGO1"
    assert admin.get("/organisations/NGO1").get_json()["name"] == "An NGO"
    user = admin.post("/users", json={"username": "newbie", "password": "a long enough passphrase 9",
                                      "role": "police"})
    assert user.status_code == 201 and user.headers["Location"] == "/api/v1/users/newbie"
    assert admin.get("/users/newbie").get_json()["role"] == "police"


def test_a_replayed_201_carries_its_location(secretariat):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"sex": "male", "age": 40, "nationality": "RS", "region": "Prishtinë"}
    first = secretariat.client.post("/api/v1/cases", json=body, headers={**secretariat._headers(), **key})
    again = secretariat.client.post("/api/v1/cases", json=body, headers={**secretariat._headers(), **key})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.status_code == 201 and again.headers["Location"] == first.headers["Location"]


@pytest.mark.parametrize("content_type, data", [("text/plain", "sex=female"),
                                                ("application/x-www-form-urlencoded", "sex=female"),
                                                (None, '{"sex": "female"}')])
def test_a_body_that_is_not_json_is_415(secretariat, content_type, data):
    headers = secretariat._headers() | ({"Content-Type": content_type} if content_type else {})
    answer = secretariat.client.post("/api/v1/cases", data=data, headers=headers)
    assert answer.status_code == 415
    assert answer.get_json()["error"]["code"] == "unsupported_media_type"


def test_an_empty_body_is_not_415(api_as, make):
    # Actions without input (accept, admit, batch) are posted with no body at all.
    answer = api_as(make.user("secretariat")).client.post(
        "/api/v1/placements/batch", headers={"Authorization": f"Bearer {make.token(make.user('secretariat'))}"})
    assert answer.status_code == 200


def test_a_role_403_names_the_role_needed(api_as, make):
    answer = api_as(make.user("partner")).post("/cases", json={"sex": "female", "age": 30, "nationality": "AL"})
    assert answer.status_code == 403
    error = answer.get_json()["error"]
    assert error["code"] == "role_required"
    assert error["roles"] == ["police", "secretariat"]
    assert "police or secretariat" in error["message"] and "partner" in error["message"]


@pytest.mark.parametrize("path, name", [("/shelters?colour=red", "colour"), ("/me?verbose=1", "verbose"),
                                        ("/alerts?status=open&sort=new", "sort")])
def test_an_unknown_query_parameter_is_400_naming_it(secretariat, path, name):
    answer = secretariat.get(path)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == "unknown_parameter" and list(error["fields"]) == [name] and name in error["message"]
