"""Accounts: passwords, tokens and the audit chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts import audit, services
from accounts.models import AuditEvent
from errors import Conflict, Invalid
from extensions import db


def test_passwords_are_argon2id_and_checked(make, now):
    user = make.user("police")
    assert user.password_hash.startswith("$argon2id$")
    assert services.authenticate(db.session, user.username, make.PASSWORD, now) is user
    assert services.authenticate(db.session, user.username, "wrong password!", now) is None
    assert services.authenticate(db.session, "nobody", "whatever it is", now) is None
    outcomes = db.session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "login")
                                  .order_by(AuditEvent.id)).all()
    assert outcomes == ["ok", "failed", "failed"]


def test_disabled_user_cannot_sign_in(make, now):
    user = make.user("police")
    services.set_active(db.session, None, now, user, False)
    assert services.authenticate(db.session, user.username, make.PASSWORD, now) is None


def test_short_password_and_duplicate_name_are_refused(make, now):
    with pytest.raises(Invalid):
        services.create_user(db.session, None, now, username="abc", password="short", role="police")
    make.user("police", username="taken")
    with pytest.raises(Conflict):
        services.create_user(db.session, None, now, username="taken", password="long enough password",
                             role="police")


def test_tokens_expire_and_are_revoked_with_the_password(make, now):
    user = make.user("police")
    raw = services.issue_token(db.session, None, now, user, days=1)
    assert services.user_for_token(db.session, raw, now) is user
    assert services.user_for_token(db.session, raw, now + timedelta(days=2)) is None
    services.set_password(db.session, None, now, user, "a brand new password")
    assert services.user_for_token(db.session, raw, now) is None
    assert services.user_for_token(db.session, "shv_" + "x" * 43, now) is None


def test_only_the_token_digest_is_stored(make, now):
    user = make.user("police")
    raw = services.issue_token(db.session, None, now, user, days=1)
    assert all(raw not in t.token_hash for t in user.tokens)


def test_audit_events_appended_in_a_batch_chain_like_one_by_one(make, now):
    audit.record(db.session, actor=None, action="first", object_type="x", object_id=0, now=now)
    batch = audit.record_many(db.session, [audit.Entry("opened", "alert", n, {"n": n}) for n in (1, 2, 3)],
                              actor=None, now=now)
    assert audit.record_many(db.session, [], actor=None, now=now) == []
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.object_id for e in events] == ["0", "1", "2", "3"] and events[1:] == batch
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert all(e.actor == "system" and e.detail == {"n": int(e.object_id)} for e in batch)
    assert audit.verify_chain(db.session).ok


def test_audit_chain_links_every_event(make, now):
    make.shelter()
    audit.record(db.session, actor=None, action="test", object_type="x", object_id=1, now=now)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert audit.verify_chain(db.session).ok
