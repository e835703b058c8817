"""A police officer working for the traffickers (the cable's first news) tries to find a victim.

The officer may see each shelter's code, name, region, free beds and fit; the shelter of their own request only
while it holds a bed there (the address and telephone once the shelter accepted); after admission, and for any
stay, transfer or admission they took no part in, the case reads "in protective accommodation". Every test drives
the real API or pages, and searches whole answers for any trace of where a shelter is.
"""

from __future__ import annotations

import json

import pytest

from extensions import db
from placement.engine import distance_band
from placement.models import PlacementRequest
from shelters import services as shelter_services
from tests.fixtures.pages import body
from tests.insider.world import world  # noqa: F401 - a fixture

PROFILE = {"sex": "female", "age": 23, "nationality": "MD", "languages": ["ro"], "needs": ["medical"],
           "region": "Prishtinë", "risk": "medium"}


def text(response) -> str:  # noqa: ANN001
    """A whole answer as text, JSON or HTML, to search for traces."""
    return json.dumps(response.get_json()) if response.is_json else body(response)


def no_trace(answer: str, world, *shelters) -> None:  # noqa: ANN001, F811
    for shelter in shelters or (world.a, world.b):
        found = [t for t in world.traces(shelter) if t in answer]
        assert not found, f"{shelter.code}'s location in the answer: {found}"


def new_request(api, world, **extra):  # noqa: ANN001, ANN201, F811
    case = api.post("/cases", json=PROFILE | extra).get_json()["case_code"]
    created = api.post("/placements", json={"case_code": case, "urgency": "emergency"})
    assert created.status_code == 201, created.get_json()
    return case, created.get_json()["id"]


def test_an_officer_sees_no_shelters_location_in_lists_details_or_pages(api_as, pages, client, world):  # noqa: F811
    api = api_as(world.officer)
    listed = api.get("/shelters")
    assert {row["code"] for row in listed.get_json()["shelters"]} == {"SHA", "SHB"}
    no_trace(text(listed), world)
    for code in ("SHA", "SHB"):
        detail = api.get(f"/shelters/{code}")
        assert detail.status_code == 200
        assert not {"municipality", "lat", "lon", "address", "telephone"} & set(detail.get_json())
        no_trace(text(detail), world)
    pages.login(world.officer.username)
    no_trace(body(client.get("/shelters")), world)
    for code in ("SHA", "SHB"):
        no_trace(body(client.get(f"/shelters/{code}")), world)


def test_an_officer_learns_the_shelter_only_while_their_request_holds_a_bed_there(api_as, make, world):  # noqa: F811
    officer, manager = api_as(world.officer), api_as(world.manager_a)
    case, request_id = new_request(officer, world)
    assert officer.post(f"/placements/{request_id}/reserve", json={"shelter": "SHA"}).status_code == 200
    reserved = officer.get(f"/placements/{request_id}").get_json()
    assert reserved["shelter"] == "SHA" and "address" not in reserved  # holding: the shelter, not yet where
    assert manager.post(f"/placements/{request_id}/accept").status_code == 200
    accepted = officer.get(f"/placements/{request_id}")
    assert accepted.get_json()["address"] == "Rruga Sekrete 7"  # to bring the victim
    assert accepted.get_json()["telephone"] == "+383 44 111 222"
    assert manager.post(f"/placements/{request_id}/admit").status_code == 200

    # Admitted: no shelter code, name, stay id, manager or timeline entry that names one, anywhere.
    after = officer.get(f"/placements/{request_id}")
    data = after.get_json()
    assert data["status"] == "admitted" and data["shelter"] is None and data["stay_id"] is None
    assert all(event["shelter"] is None for event in data["timeline"])
    assert "manager-a" not in text(after) and "SHA" not in json.dumps(data["timeline"])
    no_trace(text(after), world)
    listed = officer.get("/placements").get_json()["placements"]
    assert [(row["id"], row["shelter"]) for row in listed] == [(request_id, None)]
    case_answer = officer.get(f"/cases/{case}")
    assert case_answer.get_json()["status"] == "placed"
    assert (case_answer.get_json()["shelter"], case_answer.get_json()["stay_id"]) == (None, None)
    no_trace(text(case_answer), world)
    # The shelter's own manager and the secretariat still see it.
    assert manager.get(f"/cases/{case}").get_json()["shelter"] == "SHA"
    assert api_as(world.secretariat).get(f"/placements/{request_id}").get_json()["shelter"] == "SHA"


def test_the_officers_pages_say_protective_accommodation_and_nothing_more(api_as, pages, client, make,  # noqa: F811
                                                                          world):  # noqa: F811
    officer = api_as(world.officer)
    case, request_id = new_request(officer, world)
    officer.post(f"/placements/{request_id}/reserve", json={"shelter": "SHA"})
    manager = api_as(world.manager_a)
    manager.post(f"/placements/{request_id}/accept")
    manager.post(f"/placements/{request_id}/admit")
    pages.login(world.officer.username)
    case_page = body(client.get(f"/cases/{case}"))
    assert "in protective accommodation" in case_page and "SHA" not in case_page
    request_page = body(client.get(f"/placements/{request_id}"))
    assert "in protective accommodation" in request_page and "manager-a" not in request_page
    assert '<span class="code">SHA</span></td>' not in request_page  # no timeline entry names it
    no_trace(case_page + request_page + body(client.get("/placements")), world)


def test_a_rejected_or_expired_hold_no_longer_names_its_shelter(api_as, make, world, now):  # noqa: F811
    officer = api_as(world.officer)
    _, rejected = new_request(officer, world)
    officer.post(f"/placements/{rejected}/reserve", json={"shelter": "SHA"})
    assert api_as(world.manager_a).post(f"/placements/{rejected}/reject", json={"reason": "full tonight"}
                                        ).status_code == 200
    data = officer.get(f"/placements/{rejected}").get_json()
    assert data["status"] == "rejected" and data["shelter"] is None and data["note"] == "full tonight"
    assert all(event["shelter"] is None for event in data["timeline"])

    _, expired = new_request(officer, world, sex="female")
    officer.post(f"/placements/{expired}/reserve", json={"shelter": "SHB"})
    request = db.session.get(PlacementRequest, expired)
    request.reservation.held_until = now  # the hold runs out
    db.session.commit()
    data = officer.get(f"/placements/{expired}").get_json()
    assert data["status"] == "expired" and data["shelter"] is None


def test_an_admission_the_officer_took_no_part_in_names_no_shelter(api_as, make, world):  # noqa: F811
    officer = api_as(world.officer)
    case, request_id = new_request(officer, world)
    officer.post(f"/placements/{request_id}/reserve", json={"shelter": "SHA"})
    # The secretariat places the victim at B directly: the officer's request is cancelled.
    admitted = api_as(world.secretariat).post("/shelters/SHB/stays", json={"case_code": case})
    assert admitted.status_code == 201, admitted.get_json()
    data = officer.get(f"/placements/{request_id}")
    assert data.get_json()["status"] == "cancelled" and data.get_json()["shelter"] is None
    timeline = json.dumps(data.get_json()["timeline"])  # the suggestions still list both: that is fit, not where
    assert "SHB" not in timeline and "SHA" not in timeline and "admitted directly" in timeline
    assert officer.get(f"/cases/{case}").get_json()["shelter"] is None
    no_trace(text(data), world)


def test_an_officer_may_not_request_a_transfer_and_never_sees_one(api_as, make, world):  # noqa: F811
    officer = api_as(world.officer)
    case = officer.post("/cases", json=PROFILE).get_json()["case_code"]
    assert api_as(world.secretariat).post("/shelters/SHA/stays", json={"case_code": case}).status_code == 201
    refused = officer.post("/placements", json={"case_code": case, "transfer": True})
    assert refused.status_code == 403 and "transfer" in refused.get_json()["error"]["fields"]
    secretariat = api_as(world.secretariat)
    moved = secretariat.post("/placements", json={"case_code": case, "transfer": True})
    assert moved.status_code == 201
    assert officer.get(f"/placements/{moved.get_json()['id']}").status_code == 404  # not theirs
    assert [row["id"] for row in officer.get("/placements").get_json()["placements"]] == []


def test_distances_reach_an_officer_in_bands_only(api_as, make, world):  # noqa: F811
    """Exact distance points from each public region centre would locate a shelter to within a few km: an
    officer who asks from every region gets only bands of a quarter of the scale."""
    officer, secretariat = api_as(world.officer), api_as(world.secretariat)
    points = set()
    for region in ("Prishtinë", "Prizren", "Pejë", "Mitrovicë", "Gjilan", "Ferizaj", "Gjakovë"):
        case = officer.post("/cases", json=PROFILE | {"region": region}).get_json()["case_code"]
        shown = officer.post("/placements", json={"case_code": case}).get_json()
        exact = secretariat.get(f"/placements/{shown['id']}").get_json()["suggestions"]
        by_code = {s["shelter"]: s for s in exact}
        for suggestion in shown["suggestions"]:
            truth = by_code[suggestion["shelter"]]["terms"]["distance"]
            assert (suggestion["distance_band"], suggestion["terms"]["distance"]) == distance_band(truth, 30)
            assert suggestion["score"] == sum(suggestion["terms"].values())
            points.add(suggestion["terms"]["distance"])
        # the officer cancels: one live request per case is the rule, and the next region asks anew
        officer.post(f"/placements/{shown['id']}/cancel", json={})
    assert points <= {0, 7, 15, 22}


def test_the_case_shelter_is_not_learned_from_refusals(api_as, make, world):  # noqa: F811
    """Refusals an officer provokes name no shelter they may not know."""
    officer = api_as(world.officer)
    case = officer.post("/cases", json=PROFILE).get_json()["case_code"]
    api_as(world.secretariat).post("/shelters/SHB/stays", json={"case_code": case})
    again = officer.post("/placements", json={"case_code": case})
    assert again.status_code == 409
    assert "SHB" not in text(again)
    no_trace(text(again), world)


@pytest.mark.parametrize("role", ["admin", "manager_b"])
def test_nobody_else_outside_the_secretariat_and_the_shelters_managers_learns_its_location(api_as, pages, client,
                                                                                          world, role):  # noqa: F811
    user = world.admin if role == "admin" else world.manager_b
    detail = api_as(user).get("/shelters/SHA")
    assert not {"municipality", "lat", "lon", "address", "telephone"} & set(detail.get_json())
    no_trace(text(detail), world, world.a)
    pages.login(user.username)
    no_trace(body(client.get("/shelters/SHA")), world, world.a)
    if role == "admin":
        no_trace(body(client.get("/shelters/SHA/edit")), world, world.a)
        refused = api_as(user).patch("/shelters/SHA", json={"version": world.a.version, "address": "elsewhere"})
        assert refused.status_code == 403 and "address" in refused.get_json()["error"]["fields"]
    assert shelter_services.get_shelter(db.session, "SHA").address == "Rruga Sekrete 7"
