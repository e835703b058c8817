"""The placement pages driven as a browser would: request (profile -> suggestions -> reserve), the shelter's
decision on its board, the address rule, refusals, the list and the batch."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from extensions import db
from placement import services
from placement.models import PlacementRequest
from shelters.models import Case
from tests.fixtures.pages import assert_clean_html, audited, body, figure


@pytest.fixture
def pvpt(make):
    return make.shelter("PVPT", name="Qendra PVPT", capacity=5, languages=["sq", "ro"], children_capacity=2)


@pytest.fixture
def men(make):
    return make.shelter("MEN", name="Men only", sexes=["male"])


@pytest.fixture
def officer(make):
    return make.user("police")


@pytest.fixture
def manager(make, pvpt):
    return make.manager(pvpt)


PROFILE = {"sex": "female", "age": "22", "nationality": "md", "languages": "ro", "children": "0",
           "risk": "medium", "region": "Prishtinë", "urgency": "emergency"}


def switch_to(pages, user) -> None:
    """Sign in as `user`, signing out first whoever was signed in."""
    if pages.client.get("/login").status_code != 200:
        pages.post("/logout")
    pages.login(user.username)


def request_id(response) -> int:
    assert response.status_code == 302, body(response)
    match = re.search(r"/placements/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def placement(rid: int) -> PlacementRequest:
    db.session.expire_all()
    return db.session.get(PlacementRequest, rid)


@pytest.fixture
def reserved(make, officer, pvpt, settings, now):
    """A request by `officer` holding a bed at PVPT, made through the services."""
    req = services.create_request(db.session, officer, now, make.case(officer, children=1), settings)
    services.reserve(db.session, officer, now, req, "PVPT", settings)
    db.session.commit()
    return req


# --- the officer's three screens ---------------------------------------------------------------------------


def test_police_goes_from_a_new_case_to_a_reserved_bed_in_three_screens(client, pages, officer, pvpt, men):
    pages.login(officer.username)
    form = client.get("/placements/new")
    assert form.status_code == 200
    assert 'name="exclude" type="checkbox" value="PVPT"' in body(form)
    assert_clean_html(body(form))

    rid = request_id(pages.post("/placements/new", PROFILE, from_page="/placements/new"))
    req = placement(rid)
    assert req.status == "open" and req.urgency == "emergency" and req.case.created_by_id == officer.id
    assert req.case.nationality == "MD"

    html = body(client.get(f"/placements/{rid}"))
    assert_clean_html(html)
    assert req.case.code in html and "Open: choose a shelter" in html
    for label in ("Distance", "Shared language", "Extra services", "Low utilisation"):
        assert f"<dt>{label}</dt>" in html
    assert "<strong>5</strong> free beds" in html
    assert f'action="/placements/{rid}/reserve"' in html and "Reserve a bed here" in html
    assert "MEN</span>: does not take women" in html  # the excluded shelter, in plain words
    assert f'action="/placements/{rid}/decline"' in html and "Cancel the request" in html

    response = pages.post(f"/placements/{rid}/reserve", {"shelter": "PVPT"}, from_page=f"/placements/{rid}")
    assert request_id(response) == rid
    req = placement(rid)
    assert req.status == "reserved" and req.shelter.code == "PVPT"
    html = body(client.get(f"/placements/{rid}"))
    # A countdown, not a clock time: the two hours' hold has just begun.
    assert re.search(r"reserved, <strong><span class=\"countdown\"[^>]*>held for 1 h 59 min</span>", html) \
        and "waiting for the shelter" in html
    assert 'aria-current="step"><span class="steps-n">3</span>' in html
    # Done steps show a tick in place of their digit (kept for screen readers), not drawn over it.
    assert '<span class="steps-n"><span aria-hidden="true">✓</span><span class="visually-hidden">1</span></span>' in html
    assert "Reserve a bed here" not in html and "Rruga e Testit" not in html
    assert [e.to_status for e in req.events] == ["open", "reserved"]
    assert f"<td>{officer.username}</td>" in html  # the timeline says who


def test_a_request_starts_from_a_recorded_case(client, pages, make, officer, pvpt):
    case = make.case(officer)
    pages.login(officer.username)
    html = body(client.get(f"/cases/{case.code}"))
    assert f'href="/placements/new?case={case.code}"' in html
    form = client.get(f"/placements/new?case={case.code}")
    assert form.status_code == 200 and 'name="age"' not in body(form)
    rid = request_id(pages.post(f"/placements/new?case={case.code}", {"urgency": "routine", "exclude": "PVPT"}))
    req = placement(rid)
    assert req.case_id == case.id and req.exclude == ["PVPT"] and req.suggestions == []
    # A second visit goes to the live request instead of making another.
    assert client.get(f"/placements/new?case={case.code}").headers["Location"].endswith(f"/placements/{rid}")
    switch_to(pages, make.user("police"))
    assert client.get(f"/placements/new?case={case.code}").status_code == 404


def test_empty_suggestions_say_why(client, pages, officer, men):
    pages.login(officer.username)
    rid = request_id(pages.post("/placements/new", PROFILE, from_page="/placements/new"))
    html = body(client.get(f"/placements/{rid}"))
    assert "No shelter fits this case" in html
    assert "1 shelter: do not take this sex" in html
    assert "Reserve a bed here" not in html


# --- the shelter's board -----------------------------------------------------------------------------------


def test_the_manager_accepts_and_admits_from_the_board_and_the_figures_follow(client, pages, make, manager,
                                                                              reserved):
    code = reserved.case.code
    pages.login(manager.username)
    html = body(client.get("/shelters/PVPT"))
    assert_clean_html(html)
    assert "Incoming placement requests" in html and code in html
    assert f"Accept {code}" in html and "2</strong> beds needed" in html
    assert (figure(html, "Occupied"), figure(html, "Held for placements")) == (0, 2)

    response = pages.post(f"/placements/{reserved.id}/accept", {"back": "board"}, from_page="/shelters/PVPT")
    assert response.status_code == 302 and response.headers["Location"].endswith("/shelters/PVPT")
    html = body(client.get("/shelters/PVPT"))
    assert f"Case {code} accepted" in html and f"Admit {code}" in html
    assert placement(reserved.id).status == "accepted"

    response = pages.post(f"/placements/{reserved.id}/admit", {"back": "board"})
    assert response.headers["Location"].endswith("/shelters/PVPT")
    html = body(client.get("/shelters/PVPT"))
    assert f"Case {code} admitted (2 beds)." in html
    assert (figure(html, "Occupied"), figure(html, "Held for placements"), figure(html, "Free beds")) == (2, 0, 3)
    assert "No request is waiting for this shelter." in html
    assert placement(reserved.id).status == "admitted"
    # The manager's request page shows the profile and the whole timeline.
    html = body(client.get(f"/placements/{reserved.id}"))
    assert "<dt>Children</dt><dd>1</dd>" in html and "Accepted → <strong>Admitted</strong>" in html


def test_the_board_panel_is_the_managers_only(client, pages, make, officer, reserved, pvpt):
    for user in (officer, make.user("secretariat"), make.manager(make.shelter("OTHER"))):
        switch_to(pages, user)
        assert "Incoming placement requests" not in body(client.get("/shelters/PVPT"))


def test_reject_needs_a_reason(client, pages, manager, reserved):
    pages.login(manager.username)
    # The form: a reason to choose, never chosen for the manager, and a note beside it.
    board = body(client.get("/shelters/PVPT"))
    select = re.search(rf'<select[^>]*id="reject-{reserved.id}-reason".*?</select>', board, re.DOTALL).group(0)
    assert all('value=""' in option for option in re.findall(r"<option[^>]*selected[^>]*>", select))
    assert 'value="">Choose' in select and 'value="security_concern"' in select
    assert f'id="reject-{reserved.id}-note"' in board
    # From the board (issue 16): refused, and the manager stays on the board, told why in a sentence.
    response = pages.post(f"/placements/{reserved.id}/reject", {"reason": "", "back": "board"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/shelters/PVPT#incoming-heading")
    html = body(client.get("/shelters/PVPT"))
    assert f"Nothing was changed for case {reserved.case.code}: Choose one." in html
    assert placement(reserved.id).status == "reserved"
    # From the request's page: the page again, the error beside the field.
    response = pages.post(f"/placements/{reserved.id}/reject", {"reason": ""})
    assert response.status_code == 422
    html = body(response)
    assert "Choose one." in html and 'id="reject-reason-errors"' in html
    # A typed reason is no code: refused like any other unknown choice.
    assert pages.post(f"/placements/{reserved.id}/reject", {"reason": "no bed tonight"}).status_code == 422
    # Other needs a note, said beside the note.
    response = pages.post(f"/placements/{reserved.id}/reject", {"reason": "other"})
    assert response.status_code == 422 and 'id="reject-note-errors"' in body(response)
    assert placement(reserved.id).status == "reserved"
    response = pages.post(f"/placements/{reserved.id}/reject",
                          {"reason": "cannot_meet_needs", "note": "no bed for a child tonight"})
    assert response.headers["Location"].endswith("/shelters/PVPT")  # the request is theirs no more
    req = placement(reserved.id)
    assert req.status == "rejected" and (req.reason, req.note) == ("cannot_meet_needs", "no bed for a child tonight")
    assert (req.events[-1].reason, req.events[-1].note) == ("cannot_meet_needs", "no bed for a child tonight")
    assert pages.post(f"/placements/{reserved.id}/accept").status_code == 404  # gone from them


def test_the_rejection_reads_from_its_code_in_the_readers_language(client, pages, officer, manager, reserved):
    pages.login(manager.username)
    pages.post(f"/placements/{reserved.id}/reject", {"reason": "security_concern", "note": "seen outside"})
    switch_to(pages, officer)
    html = body(client.get(f"/placements/{reserved.id}"))
    assert "The shelter rejected the request: Security concern · seen outside" in html
    assert "<td>Security concern · seen outside</td>" in html  # the timeline
    pages.post("/language", {"language": "sq"}, from_page=f"/placements/{reserved.id}")
    html = body(client.get(f"/placements/{reserved.id}"))
    assert "Security concern" not in html and "seen outside" in html


def test_the_officer_sees_the_address_only_while_accepted(client, pages, make, officer, manager, reserved):
    path = f"/placements/{reserved.id}"
    pages.login(officer.username)
    assert "Rruga e Testit 1" not in body(client.get(path))  # reserved
    assert pages.post(f"{path}/accept").status_code == 403  # never their own
    switch_to(pages, manager)
    assert pages.post(f"{path}/accept").status_code == 302
    switch_to(pages, officer)
    before = len(audited("shelter.location_read"))
    assert "Rruga e Testit 1" in body(client.get(path))  # accepted
    assert len(audited("shelter.location_read")) == before + 1
    switch_to(pages, manager)
    pages.post(f"{path}/admit")
    switch_to(pages, officer)
    html = body(client.get(path))
    assert "Admitted" in html and "Rruga e Testit 1" not in html  # closed: gone again


def test_others_get_404(client, pages, make, reserved, officer):
    other_manager = make.manager(make.shelter("OTHER"))
    for user in (make.user("police"), other_manager):
        switch_to(pages, user)
        assert client.get(f"/placements/{reserved.id}").status_code == 404
        for action in ("reserve", "accept", "reject", "admit", "decline", "cancel"):
            response = pages.post(f"/placements/{reserved.id}/{action}", {"shelter": "PVPT", "reason": "x"})
            assert response.status_code in (403, 404), action
            if response.status_code == 403:  # the role may never do this, whoever's request it is
                assert (user.role, action) in {("police", "accept"), ("police", "reject"), ("police", "admit"),
                                               ("shelter_manager", "reserve"), ("shelter_manager", "decline"),
                                               ("shelter_manager", "cancel")}
        assert f"#{reserved.id}" not in body(client.get("/placements"))
    assert placement(reserved.id).status == "reserved"


def test_decline_records_the_reason(client, pages, officer, reserved):
    pages.login(officer.username)
    path = f"/placements/{reserved.id}"
    html = body(client.get(path))
    assert '<option value="fear_of_traffickers">Fear of the traffickers</option>' in html
    response = pages.post(f"{path}/decline", {"reason": "other", "note": ""})
    assert response.status_code == 422 and "Say why in the note." in body(response)
    assert pages.post(f"{path}/decline", {"reason": "bored"}).status_code == 422
    assert placement(reserved.id).status == "reserved"
    response = pages.post(f"{path}/decline", {"reason": "fear_of_traffickers", "note": "afraid of the region"})
    assert request_id(response) == reserved.id
    req = placement(reserved.id)
    assert (req.status, req.reason, req.note) == ("declined", "fear_of_traffickers", "afraid of the region")
    assert req.case.status == "declined_shelter" and req.reservation.released_at is not None
    html = body(client.get(path))
    assert "Reason: Fear of the traffickers" in html and "Record the refusal" not in html


def test_cancel_frees_the_bed(client, pages, officer, reserved):
    pages.login(officer.username)
    assert request_id(pages.post(f"/placements/{reserved.id}/cancel", {"note": "found family"})) == reserved.id
    assert placement(reserved.id).status == "cancelled"
    assert pages.post(f"/placements/{reserved.id}/cancel").status_code == 409


# --- the list and the batch --------------------------------------------------------------------------------


def test_the_list_is_scoped_and_filtered(client, pages, make, officer, manager, reserved, settings, now):
    other = make.user("police")
    theirs = services.create_request(db.session, other, now, make.case(other), settings)
    db.session.commit()
    pages.login(officer.username)
    html = body(client.get("/placements"))
    assert_clean_html(html)
    assert f"#{reserved.id}<" in html and f"#{theirs.id}<" not in html and "Run batch assignment" not in html
    switch_to(pages, manager)
    html = body(client.get("/placements"))
    assert f"#{reserved.id}<" in html and f"#{theirs.id}<" not in html and 'href="/placements/new"' not in html
    switch_to(pages, make.user("secretariat"))
    html = body(client.get("/placements"))
    assert f"#{reserved.id}<" in html and f"#{theirs.id}<" in html
    html = body(client.get("/placements?status=open"))
    assert f"#{reserved.id}<" not in html and f"#{theirs.id}<" in html
    assert client.get("/placements?status=nonsense").status_code == 200
    assert 'href="/placements"' in html and ">Placements <span class=\"badge\" data-live-badge>" in html  # the nav link, its badge


def test_the_secretariat_runs_the_batch_from_the_page(client, pages, make, officer, pvpt, settings, now):
    ids = [services.create_request(db.session, officer, now, make.case(officer), settings).id for _ in range(2)]
    db.session.commit()
    pages.login(officer.username)
    assert pages.post("/placements/batch").status_code == 403
    switch_to(pages, make.user("secretariat"))
    assert 'action="/placements/batch/preview"' in body(client.get("/placements"))
    preview = pages.post("/placements/batch/preview", from_page="/placements")
    assert preview.status_code == 200
    html = body(preview)
    assert [placement(i).status for i in ids] == ["open", "open"]  # a preview reserves nothing
    state = re.search(r'name="state" value="([0-9a-f]{64})"', html).group(1)
    assign = re.findall(r'name="assign" value="(\d+:[A-Z0-9-]+)"', html)
    assert sorted(int(a.split(":")[0]) for a in assign) == ids and '<span class="code">PVPT</span>: 5 free beds now, 3 after' in html
    response = pages.post("/placements/batch", {"state": state, "assign": assign}, from_page="/placements")
    assert response.status_code == 302 and response.headers["Location"].endswith("/placements")
    html = body(client.get("/placements"))
    assert "Batch assignment: 2 of 2 waiting requests placed, 0 left without a bed." in html
    assert "The assignment is optimal." in html
    assert [placement(i).status for i in ids] == ["reserved", "reserved"]
    assert len(audited("placement.batch")) == 1


# --- bad input ---------------------------------------------------------------------------------------------


def cases() -> int:
    return db.session.scalar(select(func.count()).select_from(Case))


def test_bad_input_is_a_refusal_naming_the_field_never_a_500(client, pages, officer, pvpt):
    pages.login(officer.username)
    response = pages.post("/placements/new", PROFILE | {"exclude": "NOPE"}, from_page="/placements/new")
    assert response.status_code == 422 and 'id="exclude-errors"' in body(response)
    response = pages.post("/placements/new", PROFILE | {"age": "abc"}, from_page="/placements/new")
    assert response.status_code == 422 and 'id="age-errors"' in body(response)
    response = pages.post("/placements/new", PROFILE | {"urgency": "whenever"}, from_page="/placements/new")
    assert response.status_code == 422 and 'id="urgency-errors"' in body(response)
    response = client.post("/placements/new", data=PROFILE)  # no CSRF token
    assert response.status_code == 400
    assert cases() == 0 and db.session.scalar(select(func.count()).select_from(PlacementRequest)) == 0


def test_a_refused_request_keeps_nothing(client, pages, make, officer, pvpt):
    case = make.case(officer)
    pages.login(officer.username)
    request_id(pages.post(f"/placements/new?case={case.code}", {"urgency": "urgent"}))
    switch_to(pages, make.user("secretariat"))
    # The secretariat may not make a second live request for the same case: 409, shown on the form.
    response = pages.post(f"/placements/new?case={case.code}", {"urgency": "urgent"})
    assert response.status_code == 409 and "already has a live placement request" in body(response)
    assert db.session.scalar(select(func.count()).select_from(PlacementRequest)) == 1


def test_reserving_an_unknown_or_full_shelter_is_refused(client, pages, make, officer, pvpt, settings, now):
    req = services.create_request(db.session, officer, now, make.case(officer), settings)
    db.session.commit()
    for _ in range(5):
        make.stay(pvpt)
    pages.login(officer.username)
    response = pages.post(f"/placements/{req.id}/reserve", {"shelter": "NOPE"})
    assert response.status_code == 404 and "No shelter NOPE." in body(response)
    response = pages.post(f"/placements/{req.id}/reserve", {"shelter": "PVPT"})
    assert response.status_code == 409 and "No free bed" in body(response)
    assert pages.post(f"/placements/{req.id}/reserve", {}).status_code == 422
    assert placement(req.id).status == "open"


def test_a_batch_preview_applies_only_to_the_state_it_was_made_on(client, pages, make, officer, pvpt, settings, now):
    """Issue 16: the preview says who goes where and who stays unplaced and why; applying it after a request or a
    bed moved is refused (409) with the new preview, and nothing is reserved."""
    first = services.create_request(db.session, officer, now, make.case(officer), settings, urgency="emergency")
    men_only = services.create_request(db.session, officer, now, make.case(officer, sex="female"), settings,
                                       exclude=["PVPT"])
    db.session.commit()
    pages.login(make.user("secretariat").username)
    assert pages.post("/placements/batch", from_page="/placements").status_code == 400  # preview first
    html = body(pages.post("/placements/batch/preview", from_page="/placements"))
    assert f"#{first.id}</a>" in html and 'class="row--emergency"' in html
    assert "Left without a bed" in html and "No open shelter fits this case" in html and f"#{men_only.id}</a>" in html
    state = re.search(r'name="state" value="([0-9a-f]{64})"', html).group(1)
    assign = re.findall(r'name="assign" value="(\d+:[A-Z0-9-]+)"', html)
    assert assign == [f"{first.id}:PVPT"]

    late = services.create_request(db.session, officer, now, make.case(officer), settings)  # meanwhile
    db.session.commit()
    moved = pages.post("/placements/batch", {"state": state, "assign": assign}, from_page="/placements")
    assert moved.status_code == 409 and "changed since the preview" in body(moved)
    assert f"#{late.id}</a>" in body(moved)  # the new preview, to confirm again
    assert [placement(i).status for i in (first.id, men_only.id, late.id)] == ["open", "open", "open"]

    html = body(moved)
    state = re.search(r'name="state" value="([0-9a-f]{64})"', html).group(1)
    assign = re.findall(r'name="assign" value="(\d+:[A-Z0-9-]+)"', html)
    forged = pages.post("/placements/batch", {"state": state, "assign": [f"{men_only.id}:PVPT"]},
                        from_page="/placements")
    assert forged.status_code == 422 and placement(men_only.id).status == "open"
    done = pages.post("/placements/batch", {"state": state, "assign": assign}, from_page="/placements")
    assert done.status_code == 302
    assert (placement(first.id).status, placement(late.id).status) == ("reserved", "reserved")


def test_the_list_is_searched_filtered_sorted_and_paged(client, pages, make, officer, pvpt, settings, now):
    """Issue 16: search by case code, filter by status, urgency, shelter and day, sort, emergencies marked,
    and pages of 50."""
    from placement.views import LIST_PAGE_SIZE

    routine = [services.create_request(db.session, officer, now, make.case(officer), settings, urgency="routine")
               for _ in range(LIST_PAGE_SIZE)]
    emergency = services.create_request(db.session, officer, now, make.case(officer), settings, urgency="emergency")
    services.reserve(db.session, officer, now, emergency, "PVPT", settings)
    db.session.commit()
    pages.login(make.user("secretariat").username)

    html = body(client.get("/placements"))
    assert f"{LIST_PAGE_SIZE + 1} requests" in html and html.count('<tr class="row--emergency">') == 1
    assert 'rel="next"' in html and f"#{routine[0].id}<" not in html  # the oldest is on page 2
    assert f"#{routine[0].id}<" in body(client.get("/placements?page=2"))
    assert f"#{routine[0].id}<" in body(client.get("/placements?page=99"))  # past the end: the last page

    code = emergency.case.code
    found = body(client.get(f"/placements?q={code[-4:].lower()}"))
    assert f"#{emergency.id}<" in found and "1 request" in found
    assert body(client.get("/placements?q=%25")).count("<tr") > 2  # a wildcard typed is dropped, not obeyed
    urgent_first = body(client.get("/placements?sort=urgency"))
    assert urgent_first.index(f"#{emergency.id}<") < urgent_first.index(f"#{routine[-1].id}<")
    only = body(client.get("/placements?urgency=emergency&shelter=PVPT&status=reserved"))
    assert f"#{emergency.id}<" in only and "1 request" in only
    assert "No placement request matches" in body(client.get("/placements?shelter=PVPT&urgency=routine"))
    day = now.date().isoformat()
    assert f"{LIST_PAGE_SIZE + 1} requests" in body(client.get(f"/placements?from={day}&to={day}"))
    assert "No placement request matches" in body(client.get("/placements?to=2000-01-01"))
    assert client.get("/placements?from=nonsense&sort=nonsense&urgency=x").status_code == 200


def test_police_cannot_filter_by_shelter(client, pages, make, officer, pvpt, settings, now):
    """Filtering by shelter would tell an officer which shelter holds a request; for police it is ignored."""
    req = services.create_request(db.session, officer, now, make.case(officer), settings)
    db.session.commit()
    pages.login(officer.username)
    html = body(client.get("/placements?shelter=NOPE"))
    assert f"#{req.id}<" in html and 'name="shelter"' not in html
