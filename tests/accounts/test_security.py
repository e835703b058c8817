"""Issue 5: common passwords, the second factor, throttling and lockout, sessions, headers, the audit page."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import event, select

from accounts import audit, services
from accounts.models import AuditEvent, User, UserSession
from errors import Invalid
from extensions import db
from tests.fixtures.pages import body, copy_of


def events(action: str, outcome: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    return list(db.session.scalars(query))


@pytest.fixture
def totp_required(app):  # noqa: ANN001, ANN201
    app.config["SAFEHAVEN_TOTP_REQUIRED_ROLES"] = "admin,secretariat,police"


def enrol(user: User, now) -> pyotp.TOTP:  # noqa: ANN001
    """Give `user` a second factor confirmed one step ago, so the current code is still unused."""
    secret = services.begin_totp_enrolment(db.session, user)
    totp = pyotp.TOTP(secret)
    assert services.confirm_totp_enrolment(db.session, user, totp.at(now - timedelta(seconds=30)), now)
    db.session.commit()
    return totp


# --- 1. passwords -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "Qwertyuiop123", "123456789012",
                                      "iloveyou2024", "correcthorsebatterystaple"])
def test_common_passwords_are_refused_whatever_their_case(app, password):
    with pytest.raises(Invalid, match="common passwords"):
        services.check_password_rules(password, 12)


@pytest.mark.parametrize("user", ["admin", "secretariat", "manager", "police", "partner"])
def test_demo_passwords_stay_accepted(app, user):
    services.check_password_rules(f"{user}-demo-password", 12)


def test_the_list_ships_thousands_of_entries():
    assert len(services.common_passwords()) > 2000


def test_the_user_form_refuses_a_common_password(client, pages, make):
    pages.login(make.user("admin").username)
    response = pages.post("/admin/users", {"username": "officer", "password": "Password1234", "role": "police"})
    assert response.status_code == 422 and "common passwords" in body(response)


# --- 2. the second factor -----------------------------------------------------------------------------------

def test_a_required_role_enrols_right_after_the_password(client, pages, make, totp_required):
    user = make.user("police")
    response = pages.login(user.username)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/two-factor/enrol")
    assert client.get("/shelters").status_code == 302  # not signed in: nothing else until enrolled
    page = client.get("/login/two-factor/enrol")
    html = body(page)
    assert page.status_code == 200 and "<svg" in html and "<script" not in html
    assert "http://" not in html and "https://" not in html and " style=" not in html
    db.session.refresh(user)
    secret = user.totp_secret
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in html
    token = pages.csrf("/login/two-factor/enrol")
    wrong = client.post("/login/two-factor/enrol", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 422 and client.get("/shelters").status_code == 302
    done = client.post("/login/two-factor/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert done.status_code == 200
    codes = [c for c in body(done).split("<code>")[1:]]
    assert len(codes) == 10
    assert client.get("/shelters").status_code == 200
    db.session.refresh(user)
    assert user.has_totp and len(user.recovery_codes) == 10
    assert all(r.code_hash.startswith("$argon2id$") for r in user.recovery_codes)
    assert [e.outcome for e in events("totp.enrol")] == ["failed", "ok"]
    assert events("login", "ok")[-1].actor == user.username


def test_a_signed_in_user_may_enrol_voluntarily(client, pages, make):
    user = make.user("partner")
    pages.login(user.username)
    assert client.get("/shelters").status_code == 200
    assert "<svg" in body(client.get("/login/two-factor/enrol"))


def test_code_is_asked_after_the_password_and_a_replay_is_refused(client, pages, make, now, totp_required):
    user = make.user("admin")
    totp = enrol(user, now)
    response = pages.login(user.username)
    assert response.headers["Location"].endswith("/login/two-factor")
    assert client.get("/admin/users").status_code == 302  # half signed in is signed out
    code = totp.now()
    token = pages.csrf("/login/two-factor")
    ok = client.post("/login/two-factor", data={"code": code, "csrf_token": token})
    assert ok.status_code == 302 and client.get("/admin/users").status_code == 200
    pages.post("/logout")
    replay = pages.login(user.username, code=code)
    assert replay.status_code == 200 and "Login failed." in body(replay)
    assert client.get("/admin/users").status_code == 302
    assert events("login", "failed")[-1].detail == {"step": "second_factor"}


def test_the_service_refuses_a_used_time_step(make, now):
    user = make.user("police")
    totp = enrol(user, now)
    code = totp.at(now)
    assert services.verify_second_factor(db.session, user, code, now)
    assert not services.verify_second_factor(db.session, user, code, now)
    assert not services.verify_second_factor(db.session, user, totp.at(now - timedelta(seconds=30)), now)


def test_recovery_codes_work_once(make, now):
    user = make.user("police")
    services.begin_totp_enrolment(db.session, user)
    codes = services.confirm_totp_enrolment(db.session, user, pyotp.TOTP(user.totp_secret).at(now), now)
    assert codes and len(codes) == 10 and len(set(codes)) == 10
    assert services.verify_second_factor(db.session, user, codes[3].upper(), now)
    assert not services.verify_second_factor(db.session, user, codes[3], now)
    assert services.verify_second_factor(db.session, user, codes[4], now)


def test_login_without_a_required_second_factor_is_unchanged(client, pages, make):
    response = pages.login(make.user("admin").username)
    assert response.status_code == 302 and response.headers["Location"].endswith("/home")


def test_the_pages_login_helper_answers_the_code(client, pages, make, now, totp_required):
    user = make.user("secretariat")
    totp = enrol(user, now)
    response = pages.login(user.username, code=totp.now())
    assert response.status_code == 302 and client.get("/shelters").status_code == 200


def test_an_admin_resets_a_lost_second_factor(runner, make, now):
    user = make.user("police")
    enrol(user, now)
    session_id = services.open_session(db.session, user, now)
    services.reset_totp(db.session, None, now, user)
    assert not user.has_totp and user.recovery_codes == []
    assert services.user_for_session(db.session, user.id, session_id, now, max_hours=12) is None


# --- 3. throttling and lockout ------------------------------------------------------------------------------

def test_the_eleventh_quick_login_attempt_is_refused(client, pages, make):
    token = pages.csrf()
    for _ in range(10):
        response = client.post("/login", data={"username": "nobody", "password": "x" * 12, "csrf_token": token})
        assert response.status_code == 200
    refused = client.post("/login", data={"username": "nobody", "password": "x" * 12, "csrf_token": token})
    assert refused.status_code == 429
    other = client.post("/login", data={"username": "nobody", "password": "x" * 12, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200  # per address


def test_five_failures_lock_the_account_until_an_admin_unlocks_it(client, pages, make, runner):
    user = make.user("police")
    for _ in range(5):
        assert "Login failed." in body(pages.login(user.username, "not the password at all"))
    locked = pages.login(user.username)
    assert locked.status_code == 200 and "Login failed." in body(locked)  # generic, even when right
    assert client.get("/shelters").status_code == 302
    assert [e.object_id for e in events("user.lockout")] == [user.username]
    result = runner.invoke(args=["users", "unlock", user.username])
    assert result.exit_code == 0, result.output
    assert [e.object_id for e in events("user.unlock")] == [user.username]
    assert pages.login(user.username).status_code == 302


def test_a_lockout_ends_after_its_minutes(make, now):
    user = make.user("police")
    for _ in range(5):
        services.authenticate(db.session, user.username, "wrong password!", now)
    assert user.is_locked(now)
    assert services.authenticate(db.session, user.username, make.PASSWORD, now + timedelta(minutes=14)) is None
    assert services.authenticate(db.session, user.username, make.PASSWORD, now + timedelta(minutes=16)) is user


def test_wrong_codes_count_towards_the_lockout(make, now):
    user = make.user("police")
    enrol(user, now)
    for _ in range(5):
        assert not services.verify_second_factor(db.session, user, "000000", now)
    assert user.is_locked(now)


def test_an_admin_unlocks_from_the_users_page(client, pages, make, now):
    victim = make.user("police")
    for _ in range(5):
        services.authenticate(db.session, victim.username, "wrong password!", now)
    db.session.commit()
    pages.login(make.user("admin").username)
    page = body(client.get("/admin/users"))
    assert f"/admin/users/{victim.username}/unlock" in page
    assert pages.post(f"/admin/users/{victim.username}/unlock").status_code == 302
    db.session.refresh(victim)
    assert victim.locked_until is None and events("user.unlock")[-1].actor != "system"


def test_unlock_of_an_unknown_user_fails(runner, app):
    assert runner.invoke(args=["users", "unlock", "ghost"]).exit_code != 0


# --- 4. sessions --------------------------------------------------------------------------------------------

def test_login_starts_a_new_session(client, pages, make):
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    pages.login(make.user("police").username)
    with client.session_transaction() as sess:
        assert "planted" not in sess and "_user_id" in sess


@pytest.mark.parametrize("timeout", ["idle", "expired"])
def test_idle_and_absolute_timeouts_end_the_session(client, pages, make, timeout):
    pages.login(make.user("police").username)
    assert client.get("/shelters").status_code == 200
    record = db.session.scalar(select(UserSession))
    if timeout == "idle":  # the idle time is kept in the signed cookie, so a request writes nothing
        with client.session_transaction() as sess:
            sess["seen_at"] = int(time.time()) - 16 * 60
    else:  # the absolute one is the server's: the session's record began 13 hours ago
        record.created_at -= timedelta(hours=13)
        db.session.commit()
    response = client.get("/shelters")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/shelters").status_code == 302
    db.session.refresh(record)
    assert record.ended_at is not None and record.end_reason == timeout


def test_role_status_and_password_changes_end_sessions_and_tokens(client, pages, make, now):
    user = make.user("secretariat")
    for change in (lambda: services.set_role(db.session, None, now, user, "partner"),
                   lambda: services.set_active(db.session, None, now, user, False),
                   lambda: services.set_password(db.session, None, now, user, "another long passphrase")):
        services.set_active(db.session, None, now, user, True)
        token = make.token(user)
        session_id = services.open_session(db.session, user, now)
        db.session.commit()
        change()
        db.session.commit()
        assert services.user_for_session(db.session, user.id, session_id, now, max_hours=12) is None
        assert services.user_for_token(db.session, token, now) is None
    assert [e.detail for e in events("user.role")] == [{"from": "secretariat", "to": "partner"}]


def test_a_role_change_signs_the_user_out(client, pages, make, now):
    user = make.user("secretariat")
    pages.login(user.username)
    assert client.get("/admin/users").status_code == 200
    services.set_role(db.session, None, now, user, "partner")
    db.session.commit()
    assert client.get("/admin/users").status_code == 302


def test_a_page_request_reads_its_session_with_the_user_and_writes_nothing(client, pages, make):
    pages.login(make.user("police").username)
    db.session.rollback()  # the test shares the requests' session: end what the sign-in left open
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert client.get("/shelters").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    reads = [s for s in statements if "user_sessions" in s]
    assert len(reads) == 1 and "FROM users JOIN user_sessions" in reads[0]
    assert [s for s in statements if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE")] == []


def test_signing_in_again_in_the_same_browser_ends_the_session_it_held(app, client, pages, make):
    pages.login(make.user("police").username)
    copy = copy_of(app, client)
    pages.login(make.user("secretariat").username)  # the next user of a shared PC
    db.session.rollback()
    assert client.get("/shelters").status_code == 200
    assert copy.get("/shelters").status_code == 302


def test_user_changes_need_a_recent_password(client, pages, make):
    admin = make.user("admin")
    target = make.user("police")
    pages.login(admin.username)
    with client.session_transaction() as sess:
        sess["reauth_at"] = int(time.time()) - 6 * 60
    response = pages.post(f"/admin/users/{target.username}/role", {"role": "partner"}, from_page="/admin/users")
    assert response.status_code == 302 and "/account/reauth" in response.headers["Location"]
    db.session.refresh(target)
    assert target.role == "police"
    wrong = pages.post("/account/reauth", {"password": "not my password at all"}, from_page="/account/reauth")
    assert wrong.status_code == 422
    assert pages.post("/account/reauth", {"password": make.PASSWORD}, from_page="/account/reauth").status_code == 302
    assert pages.post(f"/admin/users/{target.username}/role", {"role": "partner"}).status_code == 302
    db.session.refresh(target)
    assert target.role == "partner"
    assert pages.post(f"/admin/users/{target.username}/status", {"active": "0"}).status_code == 302
    db.session.refresh(target)
    assert not target.active


def test_only_admins_change_users(client, pages, make):
    target = make.user("police")
    pages.login(make.user("secretariat").username)
    assert pages.post(f"/admin/users/{target.username}/role", {"role": "admin"}).status_code == 403
    assert pages.post("/admin/users/nobody/role", {"role": "admin"}).status_code == 403


def test_cookies_are_httponly_strict_and_secure_behind_https(app, client, pages, make):
    cookie = pages.login(make.user("police").username).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = pages.login(make.user("police").username).headers["Set-Cookie"]
    assert "Secure" in cookie


# --- 5. headers ---------------------------------------------------------------------------------------------

def _assert_strict_headers(response, https: bool) -> None:  # noqa: ANN001
    h = response.headers
    csp = h["Content-Security-Policy"]
    for part in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                 "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):
        assert part in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Cache-Control"] == "no-store"
    assert ("Strict-Transport-Security" in h) is https
    if https:
        assert h["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("https", [False, True])
def test_every_header_on_a_page_and_an_api_answer(app, client, pages, make, api_as, https):
    app.config["SAFEHAVEN_HTTPS"] = https
    user = make.user("secretariat")
    _assert_strict_headers(client.get("/login"), https)
    pages.login(user.username)
    _assert_strict_headers(client.get("/shelters"), https)
    _assert_strict_headers(api_as(user).get("/me"), https)
    _assert_strict_headers(client.get("/api/v1/me"), https)  # a refusal too


# --- 6. reading the audit log -------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("secretariat", 200), ("shelter_manager", 403),
                                              ("police", 403), ("partner", 403)])
def test_the_audit_page_is_for_admin_and_secretariat(client, pages, make, role, status):
    pages.login(make.user(role).username)
    assert client.get("/audit").status_code == status


def test_who_viewed_a_case(client, pages, make, now):
    officer = make.user("police", username="officer7")
    other = make.user("shelter_manager", username="mgr7")
    for actor in (officer, officer, other):
        audit.record(db.session, actor=actor, action="case.read", object_type="case", object_id="VOT-25-ABCDEF",
                     now=now)
    audit.record(db.session, actor=other, action="case.read", object_type="case", object_id="VOT-25-ZZZZZZ", now=now)
    db.session.commit()
    pages.login(make.user("secretariat").username)
    html = body(client.get("/audit?case=vot-25-abcdef"))
    viewers = html.split("Who viewed VOT-25-ABCDEF</h2>")[1].split("</section>")[0]
    assert "officer7" in viewers and "mgr7" in viewers and "<td>2</td>" in viewers
    assert "VOT-25-ZZZZZZ" not in html
    by_actor = body(client.get("/audit?actor=mgr7"))
    assert "VOT-25-ZZZZZZ" in by_actor and "officer7" not in by_actor
    assert events("audit.read")[-1].object_id == "mgr7"
    assert client.get("/audit?case=" + "x" * 100).status_code == 422
