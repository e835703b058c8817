"""The sign-in pages and the organisation and user registers, driven as a browser would."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from accounts.models import AuditEvent, Organisation, User
from extensions import db
from tests.fixtures.pages import assert_clean_html, body


def logins(outcome: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login",
                                                            AuditEvent.outcome == outcome)))


def test_login_page_carries_the_csrf_token_and_strict_headers(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = body(response)
    assert '<meta name="csrf-token" content="' in html
    assert 'name="viewport"' in html
    assert_clean_html(html)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Sign out" not in html


def test_login_succeeds_and_is_audited(client, pages, make):
    user = make.user("police")
    response = pages.login(user.username)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/home")
    page = client.get("/shelters")
    assert page.status_code == 200
    assert user.username in body(page) and "Sign out" in body(page)
    assert [e.actor for e in logins("ok")] == [user.username]


def test_wrong_password_and_unknown_user_fail_alike(client, pages, make):
    user = make.user("police")
    wrong = pages.login(user.username, "not the password at all")
    unknown = pages.login("nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    assert "Login failed." in body(wrong)
    strip = re.compile(r'(content|value)="[^"]*"')
    assert strip.sub("", body(wrong)) == strip.sub("", body(unknown))
    assert {e.object_id for e in logins("failed")} == {user.username, "nobody-here"}
    assert client.get("/shelters").status_code == 302  # still signed out


def test_an_empty_login_form_fails_the_same_way(client, pages):
    response = client.post("/login", data={"csrf_token": pages.csrf(), "username": "", "password": ""})
    assert response.status_code == 200
    assert "Login failed." in body(response)


def test_login_follows_a_local_next_only(client, pages, make):
    user = make.user("police")
    token = pages.csrf()
    data = {"username": user.username, "password": make.PASSWORD, "csrf_token": token}
    response = client.post("/login?next=//evil.example/x", data=data)
    assert response.headers["Location"].endswith("/home")
    client.post("/logout", data={"csrf_token": token})
    response = client.post("/login?next=/shelters", data={**data, "csrf_token": pages.csrf()})
    assert response.headers["Location"].endswith("/shelters")


@pytest.mark.parametrize("path", ["/", "/home", "/shelters", "/shelters/PVPT", "/cases/new", "/admin/users",
                                  "/admin/organisations"])
def test_pages_need_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_logout_is_a_post_that_ends_the_session(client, pages, make):
    user = make.user("secretariat")
    pages.login(user.username)
    assert client.get("/logout").status_code == 405
    response = pages.post("/logout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/shelters").status_code == 302


def test_a_post_without_csrf_token_is_refused(client, pages, make):
    user = make.user("secretariat")
    refused = client.post("/login", data={"username": user.username, "password": make.PASSWORD})
    assert refused.status_code == 400
    pages.login(user.username)
    assert client.post("/logout").status_code == 400
    assert client.get("/shelters").status_code == 200  # still signed in


@pytest.mark.parametrize(("role", "status", "manages"), [
    ("admin", 200, True), ("secretariat", 200, False),
    ("shelter_manager", 403, False), ("police", 403, False), ("partner", 403, False),
])
@pytest.mark.parametrize("path", ["/admin/organisations", "/admin/users"])
def test_registers_by_role(client, pages, make, role, status, manages, path):
    make.org(code="KP", name="Kosovo Police")
    user = make.user(role)
    pages.login(user.username)
    response = client.get(path)
    assert response.status_code == status
    html = body(response)
    assert_clean_html(html)
    if status == 200:
        assert ("KP" in html) if "organisations" in path else (user.username in html)
        assert ('method="post" action="' + path + '"' in html) is manages
        assert (">Users</a>" in html) and (">Organisations</a>" in html)
    else:
        assert ">Users</a>" not in html


def test_admin_creates_an_organisation(client, pages, make):
    pages.login(make.user("admin").username)
    response = pages.post("/admin/organisations", {"code": "kp-dht", "name": "Police directorate", "kind": "police",
                                                   "mou_in_force": "y", "mou_since": "2024-01-31"})
    assert response.status_code == 302
    org = db.session.scalar(select(Organisation).where(Organisation.code == "KP-DHT"))
    assert org is not None and org.mou_in_force and org.mou_since.isoformat() == "2024-01-31"
    assert "KP-DHT" in body(client.get("/admin/organisations"))

    again = pages.post("/admin/organisations", {"code": "KP-DHT", "name": "Again", "kind": "police"})
    assert again.status_code == 409
    assert "Organisation KP-DHT exists already." in body(again)
    bad = pages.post("/admin/organisations", {"code": "x", "name": "Bad", "kind": "police"})
    assert bad.status_code == 422
    assert 'id="code-errors"' in body(bad)


def test_secretariat_may_not_create(client, pages, make):
    pages.login(make.user("secretariat").username)
    assert pages.post("/admin/organisations", {"code": "KP", "name": "x", "kind": "police"}).status_code == 403
    refused = pages.post("/admin/users", {"username": "someone", "password": "x" * 20, "role": "police"})
    assert refused.status_code == 403


def test_admin_creates_a_shelter_manager_with_shelters(client, pages, make):
    make.shelter("PVPT")
    make.shelter("HAH")
    org = make.org(code="PVPT-OP", name="PVPT operator", kind="shelter_operator")
    pages.login(make.user("admin").username)
    page = body(client.get("/admin/users"))
    assert '<option value="PVPT">' in page and '<option value="PVPT-OP">' in page
    response = pages.post("/admin/users", {"username": "drita", "password": "a long enough password",
                                           "role": "shelter_manager", "organisation": org.code,
                                           "shelters": ["PVPT", "HAH"]})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "drita"))
    assert user.role == "shelter_manager" and user.organisation.code == "PVPT-OP"
    assert sorted(s.code for s in user.managed_shelters) == ["HAH", "PVPT"]


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"username": "officer", "password": "a long enough password", "role": "police", "shelters": ["PVPT"]},
     422, "Only shelter managers run shelters."),
    ({"username": "officer", "password": "short", "role": "police"}, 422, "at least 12 characters"),
    ({"username": "Bad Name!", "password": "a long enough password", "role": "police"}, 422, "Username must be"),
    ({"username": "officer", "password": "a long enough password", "role": "emperor"}, 422, "Not a valid choice"),
])
def test_user_form_refusals_name_the_field(client, pages, make, data, status, message):
    make.shelter("PVPT")
    pages.login(make.user("admin").username)
    response = pages.post("/admin/users", data)
    assert response.status_code == status
    assert message in body(response)
    assert 'aria-invalid="true"' in body(response)
    assert db.session.scalar(select(User).where(User.username == "officer")) is None
