"""The shelter pages driven as a browser would: the list, the board and its forms, the register, cases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from shelters.models import Case, Headcount, Shelter, Stay
from tests.fixtures.pages import assert_clean_html, audited, body, figure


@pytest.fixture
def pvpt(make, now):
    return make.shelter("PVPT", name="Qendra PVPT", capacity=5, children_capacity=2,
                        opened_on=(now - timedelta(days=30)).date())


@pytest.fixture
def hah(make):
    return make.shelter("HAH", name="Hope and Homes", capacity=8, region="Prizren")


@pytest.fixture
def manager(make, pvpt):
    return make.manager(pvpt)


def open_stays(shelter: Shelter) -> int:
    return db.session.scalar(select(func.count()).select_from(Stay).where(
        Stay.shelter_id == shelter.id, Stay.discharged_at.is_(None)))


def switch_to(pages, user) -> None:
    pages.post("/logout")
    pages.login(user.username)


# --- home and list -----------------------------------------------------------------------------------------


def test_each_role_lands_on_what_waits_for_it(client, pages, make, manager):
    pages.login(manager.username)
    assert client.get("/").headers["Location"].endswith("/home")
    assert client.get("/home").headers["Location"].endswith("/shelters/PVPT")
    for role in ("police", "secretariat"):
        switch_to(pages, make.user(role))
        assert client.get("/home").headers["Location"].endswith("/placements?status=waiting")
    switch_to(pages, make.user("partner"))
    assert client.get("/home").headers["Location"].endswith("/shelters")


def test_list_shows_every_figure_and_links_each_board(client, pages, make, pvpt, hah):
    make.stay(pvpt)
    make.stay(pvpt)
    pages.login(make.user("police").username)
    response = client.get("/shelters")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    assert 'href="/shelters/PVPT"' in html and 'href="/shelters/HAH"' in html
    row = re.search(r'href="/shelters/PVPT">PVPT</a>.*?</tr>', html, re.S).group(0)
    numbers = [int(n) for n in re.findall(r'<td class="num[^"]*"[^>]*>(?:<strong>)?(\d+)', row)]
    assert numbers == [5, 0, 2, 0, 3, 0]  # capacity, out of service, occupied, reserved, free, utilisation
    assert "Rruga e Testit" not in html  # no address in any list
    assert "Register a shelter" not in html


def test_partner_sees_regions_only(client, pages, make, now):
    for code in ("PVPT", "P2", "P3"):
        make.shelter(code, name="Qendra PVPT", created_at=now - timedelta(days=1))
    make.shelter("HAH", name="Hope and Homes", region="Prizren", created_at=now - timedelta(days=1))
    pages.login(make.user("partner").username)
    html = body(client.get("/shelters"))
    assert "Prishtinë" in html and "Prizren" not in html  # one shelter: in no group of three
    assert "PVPT" not in html and "Qendra" not in html and "Hope and Homes" not in html
    assert re.search(r'id="as-of">As of [^<]*\b%d\b[^<]* 00:00 UTC' % now.year, html)
    assert client.get("/shelters/PVPT").status_code == 403


def test_html_in_a_shelter_name_is_escaped(client, pages, make):
    make.shelter("EVIL", name='<script>alert("x")</script><b>bold</b>')
    pages.login(make.user("secretariat").username)
    html = body(client.get("/shelters"))
    assert "&lt;script&gt;" in html and "<script>" not in html and "<b>bold" not in html


# --- the board, by role ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "address", "residents", "admit", "capacity", "headcount", "edit"), [
    ("admin", False, False, False, True, False, True),
    ("secretariat", True, True, True, True, False, True),
    ("police", False, False, False, False, False, False),
    ("manager", True, True, True, True, True, False),
    ("other_manager", False, False, False, False, False, False),
])
def test_the_board_shows_each_role_what_it_may_see(client, pages, make, pvpt, hah, manager,
                                                   who, address, residents, admit, capacity, headcount, edit):
    stay = make.stay(pvpt)
    user = {"manager": manager, "other_manager": make.manager(hah)}.get(who) or make.user(who)
    pages.login(user.username)
    response = client.get("/shelters/PVPT")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    assert (figure(html, "Capacity"), figure(html, "Occupied"), figure(html, "Free beds")) == (5, 1, 4)
    assert ("Rruga e Testit 1" in html) is address
    assert (stay.case.code in html) is residents
    assert ('action="/shelters/PVPT/admit"' in html) is admit
    assert (f'action="/stays/{stay.id}/discharge"' in html) is residents
    assert ('action="/shelters/PVPT/capacity"' in html) is capacity
    assert ('action="/shelters/PVPT/headcount"' in html) is headcount
    assert ('href="/shelters/PVPT/edit"' in html) is edit
    assert len(audited("shelter.location_read")) == int(address)
    reads = audited("shelter.residents_read")
    assert len(reads) == int(residents)
    if residents:
        assert reads[0].detail == {"cases": [stay.case.code]}


def test_an_unknown_shelter_is_404(client, pages, make):
    pages.login(make.user("secretariat").username)
    response = client.get("/shelters/NOPE")
    assert response.status_code == 404
    assert "No shelter NOPE." in body(response)


# --- admit and discharge -----------------------------------------------------------------------------------


def test_a_manager_admits_and_discharges_and_the_figures_follow(client, pages, make, pvpt, manager):
    case = make.reserved(pvpt, make.case(children=1), status="accepted").case
    pages.login(manager.username)
    response = pages.post("/shelters/PVPT/admit", {"case_code": case.code.lower()}, from_page="/shelters/PVPT")
    assert response.status_code == 302 and response.headers["Location"].endswith("/shelters/PVPT")
    html = body(client.get("/shelters/PVPT"))
    assert f"Case {case.code} admitted (2 beds)." in html
    assert (figure(html, "Occupied"), figure(html, "Free beds")) == (2, 3)
    assert case.code in html

    stay = db.session.scalar(select(Stay).where(Stay.case_id == case.id))
    response = pages.post(f"/stays/{stay.id}/discharge", {"reason": "reintegrated"})
    assert response.status_code == 302
    html = body(client.get("/shelters/PVPT"))
    assert "discharged: reintegrated" in html
    assert (figure(html, "Occupied"), figure(html, "Free beds")) == (0, 5)
    assert f'action="/stays/{stay.id}/discharge"' not in html
    assert len(audited("stay.admit")) == len(audited("stay.discharge")) == 1


def test_an_admission_time_is_read_as_utc(client, pages, make, pvpt, manager, now):
    case = make.reserved(pvpt, make.case(identified_on=(now - timedelta(days=3)).date())).case
    pages.login(manager.username)
    when = (now - timedelta(days=2)).replace(second=0, microsecond=0)
    pages.post("/shelters/PVPT/admit", {"case_code": case.code, "admitted_at": when.strftime("%Y-%m-%dT%H:%M")})
    stay = db.session.scalar(select(Stay).where(Stay.case_id == case.id))
    assert stay.admitted_at == when


def test_other_needs_a_note(client, pages, make, pvpt, manager):
    stay = make.stay(pvpt)
    pages.login(manager.username)
    response = pages.post(f"/stays/{stay.id}/discharge", {"reason": "other", "note": "  "})
    assert response.status_code == 422
    html = body(response)
    assert "note is required" in html
    assert 'id="discharge-%d-note-errors"' % stay.id in html and "<details open>" in html
    assert open_stays(pvpt) == 1
    assert pages.post(f"/stays/{stay.id}/discharge", {"reason": "other", "note": "moved abroad"}).status_code == 302
    assert open_stays(pvpt) == 0


def test_a_full_shelter_refuses_an_admission(client, pages, make, manager, pvpt):
    for _ in range(5):
        make.stay(pvpt)
    pages.login(make.user("secretariat").username)
    response = pages.post("/shelters/PVPT/admit", {"case_code": make.case().code})
    assert response.status_code == 409
    assert "No free bed: 5 of 5 taken." in body(response)
    assert open_stays(pvpt) == 5


def test_a_manager_of_another_shelter_gets_404_everywhere(client, pages, make, pvpt, hah):
    stay = make.stay(pvpt)
    pages.login(make.manager(hah).username)
    assert pages.post("/shelters/PVPT/admit", {"case_code": make.case().code}).status_code == 404
    assert pages.post(f"/stays/{stay.id}/discharge", {"reason": "repatriated"}).status_code == 404
    assert pages.post("/shelters/PVPT/capacity", {"capacity": 9, "out_of_service": 0,
                                                  "version": pvpt.version}).status_code == 404
    assert pages.post("/shelters/PVPT/headcount", {"occupied": 1}).status_code == 404
    assert client.get(f"/cases/{stay.case.code}").status_code == 404
    assert open_stays(pvpt) == 1
    assert db.session.get(Shelter, pvpt.id).capacity == 5


@pytest.mark.parametrize("role", ["police", "partner", "admin"])
def test_roles_without_admissions_are_refused(client, pages, make, pvpt, role):
    stay = make.stay(pvpt)
    pages.login(make.user(role).username)
    assert pages.post("/shelters/PVPT/admit", {"case_code": make.case().code}).status_code == 403
    assert pages.post(f"/stays/{stay.id}/discharge", {"reason": "repatriated"}).status_code == 403
    assert pages.post("/shelters/PVPT/headcount", {"occupied": 1}).status_code == 403


def test_secretariat_admits_anywhere(client, pages, make, hah):
    pages.login(make.user("secretariat").username)
    assert pages.post("/shelters/HAH/admit", {"case_code": make.case().code}).status_code == 302
    assert open_stays(hah) == 1


# --- capacity ----------------------------------------------------------------------------------------------


def test_a_stale_version_is_refused_with_its_message(client, pages, make, pvpt, manager):
    pages.login(manager.username)
    read_at = pvpt.version
    assert pages.post("/shelters/PVPT/capacity", {"capacity": 6, "out_of_service": 1,
                                                  "version": read_at}).status_code == 302
    html = body(client.get("/shelters/PVPT"))
    assert (figure(html, "Capacity"), figure(html, "Out of service"), figure(html, "Free beds")) == (6, 1, 5)
    response = pages.post("/shelters/PVPT/capacity", {"capacity": 3, "out_of_service": 0, "version": read_at})
    assert response.status_code == 409
    html = body(response)
    assert "was changed by someone else" in html and "reload and try again" in html
    assert f'name="version" type="hidden" value="{read_at + 1}"' in html  # the fresh form carries the new version
    assert db.session.get(Shelter, pvpt.id).capacity == 6


def test_capacity_below_occupancy_needs_the_overflow_confirmed(client, pages, make, pvpt, manager):
    for _ in range(4):
        make.stay(pvpt)
    pages.login(manager.username)
    data = {"capacity": 5, "out_of_service": 2, "version": pvpt.version}
    response = pages.post("/shelters/PVPT/capacity", data)
    assert response.status_code == 409
    html = body(response)
    assert "4 beds are taken but only 3 would be usable" in html
    assert "an overflow of <strong>1</strong>" in html
    assert 'name="accept_overflow"' in html and "Save anyway, reporting the overflow" in html
    assert db.session.get(Shelter, pvpt.id).out_of_service == 0

    response = pages.post("/shelters/PVPT/capacity", {**data, "accept_overflow": "y"})
    assert response.status_code == 302
    html = body(client.get("/shelters/PVPT"))
    assert "1 bed is taken beyond the usable capacity" in html
    assert figure(html, "Out of service") == 2 and figure(html, "Free beds") == 0
    assert "bed--over" in html


@pytest.mark.parametrize(("data", "field"), [
    ({"capacity": "-1", "out_of_service": "0"}, "capacity"),
    ({"capacity": "five", "out_of_service": "0"}, "capacity"),
    ({"capacity": "5", "out_of_service": ""}, "out_of_service"),
    ({"capacity": "2", "out_of_service": "3"}, "out_of_service"),
])
def test_bad_capacity_input_names_the_field(client, pages, make, pvpt, manager, data, field):
    pages.login(manager.username)
    response = pages.post("/shelters/PVPT/capacity", {**data, "version": pvpt.version})
    assert 400 <= response.status_code < 500
    html = body(response)
    assert f'id="capacity-{field}-errors"' in html
    assert db.session.get(Shelter, pvpt.id).capacity == 5


# --- headcount ---------------------------------------------------------------------------------------------


def test_a_matching_headcount_confirms(client, pages, make, pvpt, manager):
    make.stay(pvpt)
    make.stay(pvpt)
    pages.login(manager.username)
    assert pages.post("/shelters/PVPT/headcount", {"occupied": 2}).status_code == 302
    html = body(client.get("/shelters/PVPT"))
    assert "Headcount confirmed: 2 beds taken." in html
    assert db.session.get(Shelter, pvpt.id).last_headcount_at is not None


def test_a_headcount_mismatch_is_recorded_and_shows_both_figures(client, pages, make, pvpt, manager):
    make.stay(pvpt)
    make.stay(pvpt)
    pages.login(manager.username)
    response = pages.post("/shelters/PVPT/headcount", {"occupied": 3})
    assert response.status_code == 409
    assert "You counted 3 beds taken, the records say 2." in body(response)
    (count,) = db.session.scalars(select(Headcount)).all()
    assert (count.reported, count.recorded) == (3, 2)
    assert db.session.get(Shelter, pvpt.id).last_headcount_at is None


@pytest.mark.parametrize("value", ["many", "-2", ""])
def test_a_bad_headcount_names_the_field(client, pages, make, pvpt, manager, value):
    pages.login(manager.username)
    response = pages.post("/shelters/PVPT/headcount", {"occupied": value})
    assert response.status_code == 422
    assert 'id="headcount-occupied-errors"' in body(response)
    assert db.session.scalar(select(func.count()).select_from(Headcount)) == 0


# --- bad admissions ----------------------------------------------------------------------------------------


def test_bad_admissions_are_shown_not_crashed(client, pages, make, pvpt, manager, now):
    case = make.reserved(pvpt).case
    pages.login(manager.username)
    unknown = pages.post("/shelters/PVPT/admit", {"case_code": "VOT-00-NOPE22"})
    assert unknown.status_code == 404
    assert "No case VOT-00-NOPE22." in body(unknown) and 'id="admit-case_code-errors"' in body(unknown)
    future = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    ahead = pages.post("/shelters/PVPT/admit", {"case_code": case.code, "admitted_at": future})
    assert ahead.status_code == 422
    assert "cannot be in the future" in body(ahead) and 'id="admit-admitted_at-errors"' in body(ahead)
    garbled = pages.post("/shelters/PVPT/admit", {"case_code": case.code, "admitted_at": "yesterday"})
    assert garbled.status_code == 422 and 'id="admit-admitted_at-errors"' in body(garbled)
    empty = pages.post("/shelters/PVPT/admit", {"case_code": ""})
    assert empty.status_code == 422 and 'id="admit-case_code-errors"' in body(empty)
    assert open_stays(pvpt) == 0
    assert pages.post("/stays/999999/discharge", {"reason": "repatriated"}).status_code == 404
    stay = make.stay(pvpt)
    assert pages.post(f"/stays/{stay.id}/discharge", {"reason": "vanished"}).status_code == 422


def test_a_case_already_placed_is_refused(client, pages, make, pvpt, hah):
    stay = make.stay(hah)
    pages.login(make.user("secretariat").username)
    response = pages.post("/shelters/PVPT/admit", {"case_code": stay.case.code})
    assert response.status_code == 409
    assert "already staying in a shelter" in body(response)


# --- the shelter register ----------------------------------------------------------------------------------

SHELTER_FORM = {
    "name": "Strehimore e re", "kind": "ngo", "operator": "", "region": "Gjilan", "municipality": "Kamenicë",
    "lat": "42.58", "lon": "21.58", "address": "Rruga 7, Kamenicë", "capacity": "12", "out_of_service": "1",
    "sexes": ["female", "male"], "ages": "all", "children_capacity": "4", "services": ["medical", "legal"],
    "languages": "sq, SR ,en", "security": "high", "status": "open",
}


def test_admin_registers_and_edits_a_shelter(client, pages, make):
    op = make.org(code="OP-1", name="Operator", kind="shelter_operator")
    pages.login(make.user("admin").username)
    page = client.get("/shelters/new")
    assert page.status_code == 200
    assert_clean_html(body(page))
    response = pages.post("/shelters/new", {**SHELTER_FORM, "code": "kam-1", "operator": op.code})
    assert response.status_code == 302 and response.headers["Location"].endswith("/shelters/KAM-1")
    shelter = db.session.scalar(select(Shelter).where(Shelter.code == "KAM-1"))
    assert (shelter.capacity, shelter.out_of_service, shelter.children_capacity) == (12, 1, 4)
    assert shelter.languages == ["sq", "sr", "en"] and shelter.sexes == ["female", "male"]
    assert shelter.services == ["medical", "legal"] and shelter.operator.code == "OP-1"
    assert shelter.lat == pytest.approx(42.58)

    assert shelter.address == "Rruga 7, Kamenicë"  # typed once by the administrator, never shown back to them
    assert "Rruga 7" not in body(client.get("/shelters/KAM-1"))

    edit = client.get("/shelters/KAM-1/edit")
    assert edit.status_code == 200
    html = body(edit)
    assert all(f'<option selected value="{code}">' in html for code in ("sq", "sr", "en")) and f'value="{shelter.version}"' in html
    assert "Rruga 7, Kamenicë" not in html and 'name="address"' not in html and 'name="lat"' not in html
    assert not audited("shelter.location_read")
    version = shelter.version
    saved = pages.post("/shelters/KAM-1/edit", {**SHELTER_FORM, "name": "Renamed", "operator": "OP-1",
                                                "version": version})
    assert saved.status_code == 302
    assert db.session.get(Shelter, shelter.id).name == "Renamed"
    stale = pages.post("/shelters/KAM-1/edit", {**SHELTER_FORM, "name": "Stale", "version": version})
    assert stale.status_code == 409 and "was changed by someone else" in body(stale)
    renamed = db.session.get(Shelter, shelter.id)
    assert renamed.name == "Renamed" and renamed.address == "Rruga 7, Kamenicë"  # the admin's save kept it

    # The secretariat reads and changes the location on the same page; the reading is audited.
    pages.client.post("/logout", data={"csrf_token": pages.csrf("/shelters")})
    pages.login(make.user("secretariat").username)
    html = body(client.get("/shelters/KAM-1/edit"))
    assert "Rruga 7, Kamenicë" in html and audited("shelter.location_read")
    saved = pages.post("/shelters/KAM-1/edit", {**SHELTER_FORM, "name": "Renamed", "telephone": "+383 38 000 000",
                                                "version": renamed.version})
    assert saved.status_code == 302 and db.session.get(Shelter, shelter.id).telephone == "+383 38 000 000"


@pytest.mark.parametrize(("changes", "field", "status"), [
    ({"capacity": "-3"}, "capacity", 422),
    ({"capacity": "lots"}, "capacity", 422),
    ({"languages": "english"}, "languages", 422),
    ({"lat": "95"}, "lat", 422),
    ({"name": ""}, "name", 422),
    ({"out_of_service": "20"}, "out_of_service", 422),
    ({"sexes": []}, "sexes", 422),
    ({"code": "bad code!"}, "code", 422),
])
def test_bad_shelter_input_names_the_field(client, pages, make, changes, field, status):
    pages.login(make.user("secretariat").username)
    data = {**SHELTER_FORM, "code": "NEW-1", **changes}
    response = pages.post("/shelters/new", data)
    assert response.status_code == status
    assert f'id="{field}-errors"' in body(response)
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0


def test_a_duplicate_code_is_refused(client, pages, make, pvpt):
    pages.login(make.user("admin").username)
    response = pages.post("/shelters/new", {**SHELTER_FORM, "code": "PVPT"})
    assert response.status_code == 409
    assert "Shelter PVPT exists already." in body(response)


@pytest.mark.parametrize("role", ["police", "partner", "shelter_manager"])
def test_only_staff_keep_the_register(client, pages, make, pvpt, role):
    user = make.manager(pvpt) if role == "shelter_manager" else make.user(role)
    pages.login(user.username)
    assert client.get("/shelters/new").status_code == 403
    assert client.get("/shelters/PVPT/edit").status_code == 403
    assert pages.post("/shelters/PVPT/edit", {**SHELTER_FORM, "version": pvpt.version}).status_code == 403


# --- cases -------------------------------------------------------------------------------------------------

CASE_FORM = {
    "sex": "female", "age": "19", "nationality": "md", "languages": "ro, ru", "exploitation": ["sexual"],
    "needs": ["medical", "psychological"], "children": "1", "risk": "high", "trafficker_regions": "Prizren, Pejë",
    "region": "Prishtinë", "identified_on": "",
}


def test_police_record_a_case_and_see_its_profile(client, pages, make, now):
    officer = make.user("police")
    pages.login(officer.username)
    page = client.get("/cases/new")
    assert page.status_code == 200 and 'name="age"' in body(page)
    assert 'name="name"' not in body(page)  # a pseudonymous profile: there is nowhere to type a name
    response = pages.post("/cases/new", CASE_FORM)
    assert response.status_code == 302
    case = db.session.scalar(select(Case))
    assert response.headers["Location"].endswith(f"/cases/{case.code}")
    assert (case.nationality, case.birth_year, case.children, case.risk) == ("MD", now.year - 19, 1, "high")
    assert case.languages == ["ro", "ru"] and case.trafficker_regions == ["Prizren", "Pejë"]
    assert case.created_by_id == officer.id and case.identified_on == now.date()
    profile = client.get(f"/cases/{case.code}")
    assert profile.status_code == 200
    html = body(profile)
    assert case.code in html and "Prizren, Pejë" in html
    assert_clean_html(html)
    assert [e.object_id for e in audited("case.read")] == [case.code]

    switch_to(pages, make.user("police"))
    assert client.get(f"/cases/{case.code}").status_code == 404  # another officer's case


@pytest.mark.parametrize(("changes", "field"), [
    ({"age": "twenty"}, "age"),
    ({"age": "130"}, "age"),
    ({"nationality": "Moldova"}, "nationality"),
    ({"languages": "romanian"}, "languages"),
    ({"children": "-1"}, "children"),
    ({"identified_on": "2999-01-01"}, "identified_on"),
    ({"sex": "robot"}, "sex"),
])
def test_bad_case_input_names_the_field(client, pages, make, changes, field):
    pages.login(make.user("secretariat").username)
    response = pages.post("/cases/new", {**CASE_FORM, **changes})
    assert 400 <= response.status_code < 500
    assert f'id="{field}-errors"' in body(response)
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize(("role", "status"), [("admin", 403), ("partner", 403), ("shelter_manager", 403)])
def test_only_police_and_secretariat_record_cases(client, pages, make, role, status):
    pages.login(make.user(role).username)
    assert client.get("/cases/new").status_code == status


def test_who_sees_a_case(client, pages, make, pvpt, manager):
    stay = make.stay(pvpt)
    code = stay.case.code
    pages.login(manager.username)
    assert client.get(f"/cases/{code}").status_code == 200
    switch_to(pages, make.user("secretariat"))
    assert client.get(f"/cases/{code}").status_code == 200
    switch_to(pages, make.user("admin"))
    assert client.get(f"/cases/{code}").status_code == 403
    switch_to(pages, make.user("police"))
    assert client.get(f"/cases/{code}").status_code == 404
    assert client.get("/cases/VOT-00-NOPE22").status_code == 404


# --- the page's language -----------------------------------------------------------------------------------


def test_refusals_read_in_the_pages_language_and_in_english_through_the_api(client, pages, make, pvpt, manager,
                                                                             api_as):
    pages.login(manager.username)
    pages.post("/language", {"language": "sq"})
    unknown = pages.post("/shelters/PVPT/admit", {"case_code": "VOT-00-NOPE22"})
    assert unknown.status_code == 404
    assert "Nuk ka rast VOT-00-NOPE22." in body(unknown) and "No case" not in body(unknown)
    refused = pages.post(f"/stays/{make.stay(pvpt).id}/discharge", {"reason": "other"})
    assert refused.status_code == 422 and "Fusha «shënimi» është e detyrueshme." in body(refused)
    api = api_as(manager)
    answer = api.post("/shelters/PVPT/stays", json={"case_code": "VOT-00-NOPE22"})  # the manager chose sq
    assert answer.status_code == 404 and answer.get_json()["error"]["message"] == "No case VOT-00-NOPE22."


def test_a_refusal_shows_what_was_typed_as_text(client, pages, make, pvpt, manager):
    pages.login(manager.username)
    response = pages.post("/shelters/PVPT/admit", {"case_code": "<b>x</b>"})
    assert response.status_code == 404
    html = body(response)
    assert "No case &lt;B&gt;X&lt;/B&gt;." in html and "<B>X" not in html  # beside the field and flashed
    missing = client.get("/shelters/%3Cb%3EZ")
    assert missing.status_code == 404 and "&lt;b&gt;Z" in body(missing) and "<b>Z" not in body(missing)


def test_the_board_reads_in_serbian_with_its_dates(client, pages, make, pvpt, manager, now):
    stay = make.stay(pvpt)
    pages.login(manager.username)
    pages.post("/language", {"language": "sr"})
    html = body(client.get("/shelters/PVPT"))
    assert '<html lang="sr">' in html
    assert "<dt>Slobodni kreveti</dt>" in html and "Prijem slučaja" in html and "Potvrdite brojno stanje" in html
    assert re.search(rf"{stay.case.code}</a></th>\s*<td[^>]*>\d{{1,2}}\. [a-z]+ \d{{4}}\.</td>", html)
