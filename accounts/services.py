"""Accounts: organisations, users, passwords, logins and API tokens.

Plain functions over a session; they flush, the caller commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import audit
from accounts.models import ApiToken, Organisation, OrganisationKind, Role, User
from errors import Conflict, Invalid, NotFound

if TYPE_CHECKING:
    from shelters.models import Shelter

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this keeps a login for an unknown name as slow as a real one.
_DUMMY_HASH = _hasher.hash("timing-equaliser-not-a-password")

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
ORG_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,15}$")
TOKEN_PREFIX = "shv_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, min_length: int) -> None:
    """Raise Invalid when the password is too short or too long."""
    if len(password) < min_length:
        raise Invalid(
            f"password must be at least {min_length} characters",
            code="weak_password",
            fields={"password": f"at least {min_length} characters"},
        )
    if len(password) > 256:
        raise Invalid("password is too long", code="weak_password", fields={"password": "at most 256 characters"})


def create_organisation(
    session: Session,
    actor: User | None,
    now: datetime,
    *,
    code: str,
    name: str,
    kind: str,
    mou_in_force: bool = False,
    mou_since: date | None = None,
) -> Organisation:
    """Create an organisation. Raises Invalid for a bad code or kind, Conflict when the code is taken."""
    if not ORG_CODE_PATTERN.match(code):
        raise Invalid("organisation code must be 2-16 capitals, digits or dashes", fields={"code": "invalid"})
    if kind not in set(OrganisationKind):
        raise Invalid(f"unknown organisation kind {kind!r}", fields={"kind": "unknown"})
    if session.scalar(select(Organisation.id).where(Organisation.code == code)):
        raise Conflict(f"organisation {code} exists already", code="duplicate", fields={"code": "taken"})
    org = Organisation(code=code, name=name, kind=kind, mou_in_force=mou_in_force, mou_since=mou_since)
    session.add(org)
    session.flush()
    audit.record(session, actor=actor, action="organisation.create", object_type="organisation",
                 object_id=code, now=now)
    return org


def get_organisation(session: Session, code: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound(f"no organisation {code}", fields={"org": "unknown"})
    return org


def create_user(
    session: Session,
    actor: User | None,
    now: datetime,
    *,
    username: str,
    password: str,
    role: str,
    organisation_code: str | None = None,
    shelters: Sequence[Shelter] = (),
    password_min_length: int = 12,
) -> User:
    """Create an account, managing `shelters` when it is a shelter manager's.

    Raises Invalid for a bad name, role, password or organisation; Conflict when the name is taken.
    """
    if not USERNAME_PATTERN.match(username):
        raise Invalid(
            "username must be 2-64 lower-case letters, digits, dots, dashes or underscores",
            fields={"username": "invalid"},
        )
    if role not in set(Role):
        raise Invalid(f"unknown role {role!r}", fields={"role": "unknown"})
    check_password_rules(password, password_min_length)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"user {username} exists already", code="duplicate", fields={"username": "taken"})
    organisation = get_organisation(session, organisation_code) if organisation_code else None
    if shelters and role != Role.SHELTER_MANAGER:
        raise Invalid("only shelter managers run shelters", fields={"shelters": "only for shelter_manager"})
    user = User(
        username=username,
        role=role,
        organisation=organisation,
        password_hash=hash_password(password),
        managed_shelters=list(shelters),
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", object_type="user", object_id=username, now=now,
                 detail={"role": role, "shelters": [s.code for s in shelters]})
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}", fields={"username": "unknown"})
    return user


def authenticate(session: Session, username: str, password: str, now: datetime) -> User | None:
    """The user when name and password match an active account, else None; both outcomes audited.

    The caller says only "login failed", whatever failed.
    """
    user = session.scalar(select(User).where(User.username == username))
    try:
        ok = user is not None and _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
    if ok and user is not None and user.active:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
        audit.record(session, actor=user, action="login", object_type="user", object_id=user.username, now=now)
        return user
    audit.record(session, actor=None, actor_name=username[:64] or "?", action="login", object_type="user",
                 object_id=username[:64], now=now, outcome="failed")
    return None


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, actor: User | None, now: datetime, user: User, days: int) -> str:
    """Create an API token for `user`, valid for `days`; returns the token, which is never stored."""
    if not 1 <= days <= 366:
        raise Invalid("a token lives 1 to 366 days", fields={"days": "1..366"})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=_token_digest(raw), prefix=raw[:12], created_at=now,
                         expires_at=now + timedelta(days=days)))
    session.flush()
    audit.record(session, actor=actor, action="token.issue", object_type="user", object_id=user.username,
                 now=now, detail={"prefix": raw[:12], "days": days})
    return raw


def user_for_token(session: Session, raw: str, now: datetime) -> User | None:
    """The active user a live token belongs to, or None for an unknown, expired or revoked token."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(raw)))
    if token is None or not token.is_live(now) or not token.user.active:
        return None
    return token.user


def revoke_tokens(session: Session, actor: User | None, now: datetime, user: User) -> int:
    """Revoke every live token of `user`; returns how many."""
    count = 0
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            count += 1
    audit.record(session, actor=actor, action="token.revoke_all", object_type="user", object_id=user.username,
                 now=now, detail={"revoked": count})
    return count


def set_password(session: Session, actor: User | None, now: datetime, user: User, password: str,
                 min_length: int = 12) -> None:
    """Change a password; ends every session and token the user had."""
    check_password_rules(password, min_length)
    user.password_hash = hash_password(password)
    user.session_version += 1
    revoke_tokens(session, actor, now, user)
    audit.record(session, actor=actor, action="user.password", object_type="user", object_id=user.username, now=now)


def set_active(session: Session, actor: User | None, now: datetime, user: User, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions and tokens."""
    if user.active == active:
        return
    user.active = active
    user.session_version += 1
    revoke_tokens(session, actor, now, user)
    audit.record(session, actor=actor, action="user.enable" if active else "user.disable", object_type="user",
                 object_id=user.username, now=now)
