"""An insider sends what is not text (a NUL byte in a path, a query, a form, a JSON key or value) or JSON nested
without end, hoping for a 500 that PostgreSQL gives and SQLite does not, or a worker lost to a RecursionError:
every such request is a 400 naming where it was, on both databases, and nothing is written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

import odd_input
from accounts.models import AuditEvent
from extensions import db
from shelters.models import Case, Shelter, Stay
from tests.conftest import CSRF_META


def error(response) -> dict:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    return response.get_json()["error"]


def written() -> tuple[int, int, int, int]:
    """What a refused request must leave as it was: shelters, cases, stays and the audit log."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model))  # type: ignore[return-value]
                 for model in (Shelter, Case, Stay, AuditEvent))


@pytest.fixture
def pvpt(make):
    return make.shelter("PVPT", capacity=5)


@pytest.mark.parametrize("path", ["/shelters/%00", "/shelters/PV%00PT", "/shelters/PVPT%00/residents"])
def test_nul_in_an_api_path(api_as, make, pvpt, path):
    api = api_as(make.user("secretariat"))
    before = written()
    assert error(api.get(path)) == {"code": "bad_request", "message": "The path holds characters that are not text.",
                                    "fields": {"path": "invalid characters"}}
    assert written() == before


def test_nul_in_a_page_path(client, pages, make, pvpt):
    pages.login(make.user("police").username)
    response = client.get("/shelters/PV%00PT")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "path holds characters that are not text" in response.get_data(as_text=True)


def test_nul_in_a_query_parameter(client, pages, api_as, make, pvpt):
    secretariat, police = make.user("secretariat"), make.user("police")
    assert error(api_as(secretariat).get("/stats/utilisation?days=3%00"))["fields"] == {"days": "invalid characters"}
    assert error(api_as(police).get("/shelters?a%00=1"))["fields"] == {"query": "invalid characters"}
    pages.login(police.username)
    before = written()
    response = client.get("/placements/new?case=VOT%00")  # the page looks the case up by this code
    assert response.status_code == 400 and "case holds characters that are not text" in response.get_data(as_text=True)
    assert written() == before


def test_nul_in_a_form_field(client, pages, make, pvpt):
    before = written()
    token = pages.csrf("/login")
    response = client.post("/login", data={"username": "police\x00", "password": "x", "csrf_token": token})
    assert response.status_code == 400 and "username holds characters" in response.get_data(as_text=True)
    assert written() == before  # not even a failed sign-in is recorded: nobody was named

    pages.login(make.user("secretariat").username)
    token = CSRF_META.search(client.get("/shelters/new").get_data(as_text=True)).group(1)
    before = written()
    response = client.post("/shelters/new", data={"code": "NEW", "name": "New\x00 shelter", "region": "Prishtinë",
                                                  "capacity": "4", "csrf_token": token})
    assert response.status_code == 400 and "name holds characters" in response.get_data(as_text=True)
    assert written() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"case_code": "VOT-26-\u0000"}, "case_code"),  # looked up by this code
    ({"case_code": "VOT-26-ABCDEF", "admitted_at\u0000": "2026-01-01T00:00:00Z"}, "json"),
    ({"case_code": "VOT-26-ABCDEF", "admitted_at": {"\u0000": 1}}, "admitted_at"),
    ({"case_code": ["VOT", ["x\u0000"]]}, "case_code"),
    (["\u0000"], "json"),
])
def test_nul_in_json_keys_and_values(api_as, make, pvpt, body, field):
    api = api_as(make.user("secretariat"))
    before = written()
    answer = error(api.post("/shelters/PVPT/stays", json=body))
    assert answer["fields"] == {field: "invalid characters"}
    assert written() == before


def test_nul_in_json_written_as_an_escape_or_a_byte(api_as, make, pvpt):
    api = api_as(make.user("secretariat"))
    before = written()
    for raw in (b'{"sex": "female", "age": 19, "nationality": "MD", "region": "Pri\\u0000shtin\\u00eb"}',
                b'{"sex": "female", "age": 19, "nationality": "MD", "region": "Pri\x00shtin\xc3\xab"}'):
        response = api.client.post("/api/v1/cases", data=raw,
                                   headers={**api._headers(), "Content-Type": "application/json"})
        assert error(response)["fields"] == {"region": "invalid characters"}
    assert written() == before


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_beyond_the_limit_is_refused_before_it_is_parsed(api_as, make, pvpt):
    api = api_as(make.user("secretariat"))
    headers = {**api._headers(), "Content-Type": "application/json"}
    before = written()
    # Deep enough to overflow Python's recursion limit in json.loads: it must never be parsed.
    response = api.client.post("/api/v1/cases", data=nested(100_000), headers=headers)
    assert error(response)["fields"] == {"json": "nested deeper than 32 levels"}
    just_over = json.dumps({"sex": "female", "languages": json.loads(nested(32))})
    response = api.client.post("/api/v1/cases", data=just_over, headers={**headers, "Idempotency-Key": "deep-1"})
    assert error(response)["fields"] == {"json": "nested deeper than 32 levels"}
    assert written() == before
    # Brackets inside a string are text, not nesting; 32 levels are within the limit and reach validation.
    fine = {"sex": "female", "age": 19, "nationality": "MD", "region": "[" * 60, "languages": ["ro"]}
    assert api.post("/cases", json=fine).status_code == 201
    within = json.dumps({"sex": "female", "age": 19, "nationality": "MD", "languages": json.loads(nested(31))})
    assert api.client.post("/api/v1/cases", data=within, headers=headers).status_code == 422


def test_depth_counts_brackets_outside_strings_only():
    assert not odd_input.json_depth_exceeds('["[[[[", {"a": "\\"]]][[["}, [[]]]', 3)
    assert odd_input.json_depth_exceeds('["x", {"a": [[1]]}]', 3)
    assert not odd_input.json_depth_exceeds('["an unterminated string [[[[[[', 3)
    assert not odd_input.is_text("a\x00") and not odd_input.is_text("\ud800") and odd_input.is_text("Prishtinë")
