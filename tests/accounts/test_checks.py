"""The accounts invariants of `flask check`, and the command itself over every domain's checks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from accounts.checks import accounts_problems
from accounts.models import ApiToken, AuditEvent
from extensions import db
from shelters import services as shelter_services
from shelters.models import Shelter


def codes(problems: list[str]) -> list[str]:
    return [p.split(":", 1)[0] for p in problems]


def test_a_consistent_state_has_no_problem(make, now):
    make.token(make.user("police"))
    assert accounts_problems(db.session, now) == []


def test_an_edited_audit_event_is_reported(make, now, without_append_only_guard):
    make.token(make.user("police"))
    second = db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id).offset(1).limit(1)).one()
    db.session.execute(update(AuditEvent).where(AuditEvent.id == second).values(outcome="denied"))
    problems = accounts_problems(db.session, now)
    assert codes(problems) == ["audit_chain"]
    assert f"broken at event {second}: its content does not match its MAC" in problems[0]


def test_a_token_expiring_before_it_was_issued_is_reported(make, now):
    make.token(make.user("police"))
    db.session.execute(update(ApiToken).values(expires_at=ApiToken.created_at))
    assert codes(accounts_problems(db.session, now)) == ["token_times"]
    db.session.rollback()


def test_flask_check_passes_on_a_consistent_state(make, runner):
    shelter = make.shelter(capacity=2)
    make.stay(shelter)
    make.token(make.user("police"))
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "all invariants hold" in result.output


def test_flask_check_lists_every_problem_and_fails(make, runner, now):
    shelter = make.shelter(capacity=2)
    make.stay(shelter)
    make.token(make.user("police"))
    db.session.execute(update(Shelter).where(Shelter.id == shelter.id).values(version=0))
    db.session.execute(update(ApiToken).values(expires_at=ApiToken.created_at))
    shelter_services.hold_beds(db.session, None, now, shelter, 1, now + timedelta(hours=1))  # held for no request
    db.session.commit()
    result = runner.invoke(args=["check"])
    assert result.exit_code == 1
    assert codes(result.output.splitlines()[:3]) == ["shelter_version", "orphan_hold", "token_times"]
    assert "3 problem(s) found" in result.output
