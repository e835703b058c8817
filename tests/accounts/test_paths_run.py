"""Paths no other test took: an administrator creating an organisation and a user through the API, and
`flask users reset-two-factor` for a user who lost their phone."""

from __future__ import annotations

from datetime import date

import pyotp
from sqlalchemy import select

from accounts import services
from accounts.models import AuditEvent, Organisation, User
from extensions import db
from tests.fixtures.factories import Factory

STRONG = "a long and unusual passphrase 42"


def test_an_administrator_creates_an_organisation_through_the_api(api_as, make):
    admin = api_as(make.user("admin"))
    answer = admin.post("/organisations", json={"code": "NGO-7", "name": "Seven", "kind": "ngo",
                                                "mou_in_force": True, "mou_since": "2025-02-01"})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json() == {"code": "NGO-7", "name": "Seven", "kind": "ngo", "mou_in_force": True,
                                 "mou_since": "2025-02-01"}
    org = db.session.scalar(select(Organisation).where(Organisation.code == "NGO-7"))
    assert (org.name, org.mou_in_force, org.mou_since) == ("Seven", True, date(2025, 2, 1))
    listed = admin.get("/organisations").get_json()["organisations"]
    assert "NGO-7" in [o["code"] for o in listed]
    # the secretariat reads them but does not create them
    secretariat = api_as(make.user("secretariat"))
    assert secretariat.post("/organisations", json={"code": "NGO-8", "name": "Eight", "kind": "ngo"}).status_code \
        == 403


def test_an_administrator_creates_a_user_through_the_api(api_as, make, client):
    admin = api_as(make.user("admin"))
    org = make.org(code="POL-1", kind="police")
    shelter = make.shelter(code="HAH")
    answer = admin.post("/users", json={"username": "manager.new", "password": STRONG, "role": "shelter_manager",
                                        "shelters": ["HAH"]})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json() == {"username": "manager.new", "role": "shelter_manager", "organisation": None,
                                 "shelters": ["HAH"], "active": True, "email": None, "timezone": None}
    officer = admin.post("/users", json={"username": "officer.new", "password": STRONG, "role": "police",
                                         "organisation": org.code})
    assert officer.status_code == 201, officer.get_json()
    assert officer.get_json()["organisation"] == "POL-1" and "password" not in officer.get_json()
    made = db.session.scalar(select(User).where(User.username == "manager.new"))
    assert [s.code for s in made.managed_shelters] == [shelter.code]
    assert services.authenticate(db.session, "manager.new", STRONG, make.now()) is not None  # the password holds
    # refused with the field named, nothing written
    weak = admin.post("/users", json={"username": "weak.one", "password": "short", "role": "police"})
    assert weak.status_code in (400, 422) and db.session.scalar(select(User).where(User.username == "weak.one")) \
        is None
    assert api_as(make.user("secretariat")).post("/users", json={"username": "x.y", "password": STRONG,
                                                                 "role": "police"}).status_code == 403


def test_reset_two_factor_from_the_command_line(runner, make: Factory, api_as):
    user = make.user("secretariat", username="lost.phone")
    user.totp_secret = pyotp.random_base32()
    user.totp_confirmed_at = make.now()
    db.session.commit()
    assert user.has_totp
    api = api_as(user)
    assert api.get("/me").status_code == 200

    result = runner.invoke(args=["users", "reset-two-factor", "lost.phone"])
    assert result.exit_code == 0, result.output
    assert "two-factor sign-in removed for lost.phone" in result.output
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "lost.phone"))
    assert (user.totp_secret, user.totp_confirmed_at, user.has_totp) == (None, None, False)
    assert api.get("/me").status_code == 401  # the tokens ended with it
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == "lost.phone")).all()
    assert "totp.reset" in actions


def test_reset_two_factor_of_an_unknown_user_fails(runner, app):
    result = runner.invoke(args=["users", "reset-two-factor", "nobody"])
    assert result.exit_code != 0
