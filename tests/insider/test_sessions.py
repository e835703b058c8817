"""Issue 13, sessions: an insider holding a copy of someone's session cookie (from a shared police station PC, a
proxy log, malware) or guessing at an unattended session's password. Driven through the real pages and CLI."""

from __future__ import annotations

import time
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from tests.conftest import Pages
from tests.fixtures.pages import audited, body, copy_of

WRONG = "not my password at all"
NEW_PASSWORD = "a brand new long passphrase"


def signed_in(client: FlaskClient) -> bool:
    db.session.rollback()  # the test shares the requests' session: each request starts afresh
    response = client.get("/shelters")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def assert_sent_to_sign_in(response) -> None:  # noqa: ANN001
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, client, pages, make):
    pages.login(make.user("police").username)
    thief = copy_of(app, client)
    assert signed_in(thief)  # while the session lasts, a copy is as good as the original
    assert pages.post("/logout").status_code == 302
    assert_sent_to_sign_in(thief.get("/shelters"))
    assert not signed_in(thief) and not signed_in(client)


def test_changing_ones_password_ends_every_other_session_and_token(app, client, pages, make, api_as):
    user = make.user("police")
    pages.login(user.username)  # on the shared PC, where the cookie is copied
    thief = copy_of(app, client)
    api = api_as(user)
    own = app.test_client()  # the user's own browser, where they change the password
    own_pages = Pages(own)
    own_pages.login(user.username)
    assert signed_in(thief) and api.get("/me").status_code == 200
    response = own_pages.post("/account/password", {"current_password": make.PASSWORD, "password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD}, from_page="/account/password")
    assert response.status_code == 302
    assert "Every other session and every API token of yours has ended." in body(
        own.get(response.headers["Location"], follow_redirects=True))
    assert signed_in(own)  # the session that made the change stays signed in
    assert not signed_in(thief) and not signed_in(client)
    assert api.get("/me").status_code == 401
    assert [e.actor for e in audited("user.password")] == [user.username]


def test_users_reset_password_ends_every_session_and_token(app, client, pages, make, api_as, runner):
    user = make.user("police")
    pages.login(user.username)
    thief = copy_of(app, client)
    api = api_as(user)
    result = runner.invoke(args=["users", "reset-password", user.username], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert not signed_in(thief) and not signed_in(client)
    assert api.get("/me").status_code == 401
    assert [(e.actor, e.object_id) for e in audited("user.password")] == [("cli", user.username)]
    assert [e.actor for e in audited("token.revoke_all")] == ["cli"]
    assert "Login failed." in body(pages.login(user.username))  # the old password
    assert pages.login(user.username, NEW_PASSWORD).status_code == 302 and signed_in(client)


def test_failed_reauthentications_lock_the_account_and_end_the_session(app, client, pages, make):
    user = make.user("admin")
    pages.login(user.username)
    thief = copy_of(app, client)
    failures = app.config["SAFEHAVEN_LOCKOUT_FAILURES"]
    for _ in range(failures - 1):
        response = pages.post("/account/reauth", {"password": WRONG}, from_page="/account/reauth")
        assert response.status_code == 422 and "That is not your password." in body(response)
    last = pages.post("/account/reauth", {"password": WRONG}, from_page="/account/reauth")
    # The N-th failure says what sign-in says, and no more.
    assert last.status_code == 302 and last.headers["Location"].endswith("/login")
    page = body(client.get("/login"))
    assert "Login failed." in page and "not your password" not in page and "lock" not in page.lower()
    assert not signed_in(client) and not signed_in(thief)
    assert [e.object_id for e in audited("user.lockout")] == [user.username]
    assert "Login failed." in body(pages.login(user.username))  # locked: even the right password fails
    assert not signed_in(client)


def test_a_wrong_current_password_on_the_password_page_counts_towards_the_lockout(app, client, pages, make):
    user = make.user("secretariat")
    pages.login(user.username)
    failures = app.config["SAFEHAVEN_LOCKOUT_FAILURES"]
    change = {"current_password": WRONG, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for _ in range(failures - 1):
        response = pages.post("/account/password", change, from_page="/account/password")
        assert response.status_code == 422 and "That is not your password." in body(response)
    last = pages.post("/account/password", change, from_page="/account/password")
    assert last.status_code == 302 and last.headers["Location"].endswith("/login")
    assert "Login failed." in body(client.get("/login"))
    assert not signed_in(client)
    assert [e.object_id for e in audited("user.lockout")] == [user.username]
    assert "Login failed." in body(pages.login(user.username, NEW_PASSWORD))


def test_the_new_password_must_pass_the_rules(client, pages, make):
    user = make.user("partner")
    pages.login(user.username)
    for new, refusal in [("too short", "at least 12 characters"), ("password1234", "common passwords")]:
        response = pages.post("/account/password", {"current_password": make.PASSWORD, "password": new,
                                                     "confirm": new}, from_page="/account/password")
        assert response.status_code == 422 and refusal in body(response)
    differ = pages.post("/account/password", {"current_password": make.PASSWORD, "password": NEW_PASSWORD,
                                              "confirm": NEW_PASSWORD + "!"}, from_page="/account/password")
    assert differ.status_code == 422 and "The two new passwords differ." in body(differ)
    assert signed_in(client)
    assert pages.post("/logout").status_code == 302
    assert "Login failed." in body(pages.login(user.username, NEW_PASSWORD))
    assert pages.login(user.username).status_code == 302  # the old password is still the one


def test_a_session_past_its_hours_is_refused_whatever_the_re_signed_cookie_says(app, client, pages, make):
    from accounts.models import UserSession

    pages.login(make.user("police").username)
    record = db.session.scalar(select(UserSession))
    record.created_at -= timedelta(hours=app.config["SAFEHAVEN_SESSION_MAX_HOURS"] + 1)
    db.session.commit()
    # Someone holding SECRET_KEY re-signs the cookie, every clock in it saying the session has just begun.
    name = app.config["SESSION_COOKIE_NAME"]
    signer = app.session_interface.get_signing_serializer(app)
    cookie = signer.loads(client.get_cookie(name).value)
    cookie["seen_at"] = cookie["reauth_at"] = int(time.time())
    forged = app.test_client()
    forged.set_cookie(name, signer.dumps(cookie))
    assert_sent_to_sign_in(forged.get("/shelters"))
    assert not signed_in(forged) and not signed_in(client)
    db.session.refresh(record)
    assert record.ended_at is not None and record.end_reason == "expired"
