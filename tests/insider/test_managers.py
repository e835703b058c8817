"""The manager of another shelter tries to read, locate or take over a case that is not theirs.

A manager reads a request only while it holds a bed at their shelter, or once admitted there while the case still
stays there; a case only while it stays there or a bed is held for it there; admits directly only a case whose
request holds a bed at their shelter. Every refusal on what they may not see is the very 404 of a code that does
not exist: no existence oracle through 404, 409 or 201.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from extensions import db
from placement.models import PlacementRequest
from shelters.models import Stay
from tests.fixtures.pages import body
from tests.insider.world import world  # noqa: F401 - a fixture

UNKNOWN_CASE = "VOT-00-NOPE00"


def same_refusal(seen, unknown, seen_code: str, unknown_code: str) -> None:  # noqa: ANN001
    """Two refusals that must be indistinguishable but for the code asked about."""
    assert seen.status_code == unknown.status_code == 404
    if seen.is_json:
        assert json.dumps(seen.get_json()).replace(seen_code, "X") == json.dumps(unknown.get_json()).replace(
            unknown_code, "X")
    else:  # the pages differ in their CSRF token only, which is timestamped
        assert without_csrf(body(seen)).replace(seen_code, "X") == without_csrf(body(unknown)).replace(
            unknown_code, "X")


def without_csrf(html: str) -> str:
    return re.sub(r'(name="csrf[-_]token"[^>]*(?:content|value)=")[^"]+', r"\1", html)


def stays_at(shelter) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(Stay).where(Stay.shelter_id == shelter.id))


@pytest.fixture
def cases(make, world):  # noqa: ANN001, ANN201, F811
    """A case whose request holds a bed at A, one staying at A, and one only identified."""
    held = make.reserved(world.a, make.case(created_by=world.officer), by=world.officer)
    staying = make.stay(world.a, make.case(created_by=world.officer)).case
    identified = make.case(created_by=world.officer)
    return {"held at A": held.case.code, "staying at A": staying.code, "identified": identified.code}


@pytest.mark.parametrize("state", ["held at A", "staying at A", "identified"])
def test_a_manager_cannot_take_over_a_case_by_admitting_it(api_as, pages, client, world, cases, state):  # noqa: F811
    code = cases[state]
    api = api_as(world.manager_b)
    same_refusal(api.post("/shelters/SHB/stays", json={"case_code": code}),
                 api.post("/shelters/SHB/stays", json={"case_code": UNKNOWN_CASE}), code, UNKNOWN_CASE)
    pages.login(world.manager_b.username)
    seen = pages.post("/shelters/SHB/admit", {"case_code": code}, from_page="/shelters/SHB")
    unknown = pages.post("/shelters/SHB/admit", {"case_code": UNKNOWN_CASE}, from_page="/shelters/SHB")
    assert seen.status_code == unknown.status_code == 404
    assert f"No case {code}." in body(seen)
    assert stays_at(world.b) == 0
    # Their own shelter's manager does not take over a case staying or merely identified either.
    if state != "held at A":
        assert api_as(world.manager_a).post("/shelters/SHA/stays", json={"case_code": code}).status_code == 404


def test_a_manager_admits_the_case_their_shelter_holds_a_bed_for(api_as, pages, client, make, world):  # noqa: F811
    request = make.reserved(world.a, by=world.officer)
    pages.login(world.manager_a.username)
    admitted = pages.post("/shelters/SHA/admit", {"case_code": request.case.code}, from_page="/shelters/SHA")
    assert admitted.status_code == 302
    db.session.refresh(request)
    assert request.status == "admitted" and request.stay.shelter_id == world.a.id
    assert request.reservation.release_reason == "admitted"  # the hold was consumed, not left dangling


@pytest.mark.parametrize("state", ["held at A", "staying at A", "identified"])
def test_probing_codes_ids_and_timelines_of_another_shelter_answers_as_if_nothing_existed(
        api_as, pages, client, make, world, cases, state):  # noqa: F811
    code = cases[state]
    api = api_as(world.manager_b)
    same_refusal(api.get(f"/cases/{code}"), api.get(f"/cases/{UNKNOWN_CASE}"), code, UNKNOWN_CASE)
    pages.login(world.manager_b.username)
    same_refusal(client.get(f"/cases/{code}"), client.get(f"/cases/{UNKNOWN_CASE}"), code, UNKNOWN_CASE)
    request = db.session.scalar(select(PlacementRequest).join(PlacementRequest.case).where(
        PlacementRequest.case.has(code=code)))
    missing = 999_999
    if request is not None:
        same_refusal(api.get(f"/placements/{request.id}"), api.get(f"/placements/{missing}"), str(request.id),
                     str(missing))
        for action in ("accept", "reject", "admit"):
            same_refusal(api.post(f"/placements/{request.id}/{action}", json={"reason": "x"}),
                         api.post(f"/placements/{missing}/{action}", json={"reason": "x"}), str(request.id),
                         str(missing))
    stay = db.session.scalar(select(Stay).where(Stay.case.has(code=code)))
    if stay is not None:
        same_refusal(api.post(f"/stays/{stay.id}/discharge", json={"reason": "repatriated"}),
                     api.post(f"/stays/{missing}/discharge", json={"reason": "repatriated"}), str(stay.id),
                     str(missing))
    assert [row["id"] for row in api.get("/placements").get_json()["placements"]] == []


@pytest.mark.parametrize("ending", ["reject", "cancel", "expire", "transfer away"])
def test_the_profile_is_gone_from_a_manager_once_their_shelter_holds_the_case_no_more(
        api_as, make, world, now, ending):  # noqa: F811
    manager, officer, secretariat = api_as(world.manager_a), api_as(world.officer), api_as(world.secretariat)
    request = make.reserved(world.a, make.case(created_by=world.officer), by=world.officer)
    code, request_id = request.case.code, request.id
    assert manager.get(f"/placements/{request_id}").get_json()["profile"]["sex"] == "female"
    assert manager.get(f"/cases/{code}").status_code == 200
    if ending == "reject":
        assert manager.post(f"/placements/{request_id}/reject", json={"reason": "no room"}).status_code == 200
    elif ending == "cancel":
        assert officer.post(f"/placements/{request_id}/cancel", json={}).status_code == 200
    elif ending == "expire":
        request.reservation.held_until = now
        db.session.commit()
    else:
        assert manager.post(f"/placements/{request_id}/accept").status_code == 200
        assert manager.post(f"/placements/{request_id}/admit").status_code == 200
        assert manager.get(f"/cases/{code}").get_json()["shelter"] == "SHA"  # staying: theirs
        moved = secretariat.post("/placements", json={"case_code": code, "transfer": True}).get_json()["id"]
        assert secretariat.post(f"/placements/{moved}/reserve", json={"shelter": "SHB"}).status_code == 200
        other = api_as(world.manager_b)
        # The receiving manager reads the profile, never where the resident is now.
        incoming = other.get(f"/placements/{moved}")
        assert incoming.status_code == 200 and incoming.get_json()["excluded"] == []
        assert "SHA" not in json.dumps(incoming.get_json())
        assert other.post(f"/placements/{moved}/accept").status_code == 200
        assert other.post(f"/placements/{moved}/admit").status_code == 200
        assert other.get(f"/cases/{code}").get_json()["shelter"] == "SHB"
    assert manager.get(f"/placements/{request_id}").status_code == 404
    assert manager.get(f"/cases/{code}").status_code == 404
    assert [row["id"] for row in manager.get("/placements").get_json()["placements"]] == []
