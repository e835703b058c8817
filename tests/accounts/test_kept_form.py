"""Issue 16: a form posted after its session ran out is not lost. It is kept on the server with the page session
(never in the cookie or a URL), the sender is answered by the sign-in page, and signing in again (as the same
user only) returns to the form filled in as it was typed."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import func, select, text

from accounts.models import UserSession
from extensions import db
from shelters.models import Case, Stay
from tests.fixtures.pages import body

PROFILE = {"sex": "male", "age": "31", "nationality": "MD", "languages": "ro, ru", "children": "0",
           "risk": "high", "region": "Prishtinë", "trafficker_regions": "Pejë", "identified_on": ""}
SECRET = "passport AB123456, scar on left hand"


def cookie(app, client) -> dict:
    signer = app.session_interface.get_signing_serializer(app)
    return signer.loads(client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)


def raw_cookie(app, client) -> str:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def go_idle(app, client) -> None:
    """Move the session's last request past the idle limit (the cookie's clock; time is not slept for)."""
    with client.session_transaction() as sess:
        sess["seen_at"] = int(time.time()) - app.config["SAFEHAVEN_SESSION_IDLE_MINUTES"] * 60 - 5


def cases() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Case))


@pytest.fixture
def officer(make):
    return make.user("police")


def test_an_idle_profile_comes_back_filled_after_signing_in(app, client, pages, officer):
    pages.login(officer.username)
    token = pages.csrf("/cases/new")
    go_idle(app, client)
    before = cases()
    response = client.post("/cases/new", data=PROFILE | {"identifying_details": SECRET, "needs": ["medical", "legal"],
                                                         "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "/cases/new" not in response.headers["Location"] and "MD" not in response.headers["Location"]
    assert cases() == before  # nothing was sent
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "what you typed was kept" in body(page)
    # Kept on the server, encrypted; nothing of it in the cookie.
    assert SECRET not in json.dumps(cookie(app, client)) and SECRET not in raw_cookie(app, client)
    stored = db.session.execute(text("SELECT kept_form FROM user_sessions")).scalars().all()
    assert any(stored) and not any(SECRET in (value or "") for value in stored)

    response = pages.login(officer.username)
    assert response.status_code == 302 and response.headers["Location"].endswith("/session/kept")
    response = client.get("/session/kept")
    assert response.status_code == 302 and response.headers["Location"].endswith("/cases/new")
    html = body(client.get("/cases/new"))
    assert SECRET in html and 'value="31"' in html and '<option selected value="MD">' in html
    assert '<option selected value="ro">' in html and '<option selected value="ru">' in html
    assert '<option selected value="male">' in html and '<option selected value="high">' in html
    assert re.search(r'<input checked id="needs-\d+" name="needs" type="checkbox" value="legal">', html)
    assert "What you typed was kept" in html
    # Handed back once; then the form is sent as usual.
    assert SECRET not in body(client.get("/cases/new"))
    assert not any(db.session.execute(select(UserSession.__table__.c.kept_form)).scalars().all())
    response = pages.post("/cases/new", PROFILE, from_page="/cases/new")
    assert response.status_code == 302 and cases() == before + 1


def test_someone_else_signing_in_on_that_browser_never_gets_the_form(app, client, pages, make, officer):
    pages.login(officer.username)
    token = pages.csrf("/cases/new")
    go_idle(app, client)
    client.post("/cases/new", data=PROFILE | {"identifying_details": SECRET, "csrf_token": token})
    other = make.user("police")
    response = pages.login(other.username)
    assert response.status_code == 302 and not response.headers["Location"].endswith("/session/kept")
    assert SECRET not in body(client.get("/cases/new"))
    assert client.get("/session/kept").status_code == 302


def test_a_form_posted_after_another_tab_ended_the_session_is_kept_too(app, client, pages, officer):
    """The cookie no longer holds the CSRF token (another tab's request ended the idle session): the post is
    refused as before, but answered by the sign-in page, and comes back after signing in."""
    pages.login(officer.username)
    token = pages.csrf("/cases/new")
    go_idle(app, client)
    assert "/login" in client.get("/shelters").headers["Location"]  # the other tab
    before = cases()
    response = client.post("/cases/new", data=PROFILE | {"identifying_details": SECRET, "csrf_token": token})
    # The sign-in page itself answers (400: the form was refused), not a bare "CSRF token missing".
    assert response.status_code == 400 and 'action="/login"' in body(response) and "CSRF" not in body(response)
    assert "what you typed was kept" in body(response)
    assert cases() == before
    pages.login(officer.username)
    client.get("/session/kept")
    assert SECRET in body(client.get("/cases/new"))


def test_the_sign_in_page_answers_in_the_readers_language(app, client, pages, officer):
    pages.login(officer.username)
    token = pages.csrf("/cases/new")
    go_idle(app, client)
    client.get("/shelters", headers={"Accept-Language": "sq"})
    response = client.post("/cases/new", data=PROFILE | {"csrf_token": token}, headers={"Accept-Language": "sq"})
    assert response.status_code == 400 and '<html lang="sq">' in body(response)


def test_an_action_without_a_page_of_its_own_is_offered_to_send_again(app, client, pages, make):
    pvpt = make.shelter("PVPT", capacity=5)
    manager = make.manager(pvpt)
    case = make.reserved(pvpt, make.case(), status="accepted").case
    pages.login(manager.username)
    assert pages.post("/shelters/PVPT/admit", {"case_code": case.code}, from_page="/shelters/PVPT").status_code == 302
    stay = db.session.scalar(select(Stay).where(Stay.case_id == case.id))
    token = pages.csrf("/shelters/PVPT")
    go_idle(app, client)
    response = client.post(f"/stays/{stay.id}/discharge", data={"reason": "other", "note": "went home to Chisinau",
                                                                "csrf_token": token})
    assert "/login" in response.headers["Location"]
    pages.login(manager.username)
    html = body(client.get("/session/kept"))
    assert f'action="/stays/{stay.id}/discharge"' in html and 'value="went home to Chisinau"' in html
    assert "csrf_token" in html
    db.session.expire_all()
    assert db.session.get(Stay, stay.id).discharged_at is None  # not sent until the user says so


def test_the_stay_signed_in_endpoint_restarts_the_idle_clock(app, client, pages, officer):
    pages.login(officer.username)
    html = body(client.get("/shelters"))
    assert 'id="session-warning"' in html and 'src="/static/session.js"' in html
    assert client.get("/session/alive").status_code == 204
    assert cookie(app, client)["seen_at"] >= int(time.time()) - 2
