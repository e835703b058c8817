"""Accounts: organisations, users, passwords, logins, page sessions and API tokens.

Plain functions over a session; they flush, the caller commits.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

import i18n
from accounts import audit
from accounts.models import (
    ApiToken,
    Organisation,
    OrganisationKind,
    RecoveryCode,
    Role,
    SessionEnd,
    User,
    UserSession,
)
from errors import Conflict, Invalid, NotFound
from i18n import language_code
from i18n import lazy_gettext as _l

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


COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of well-known passwords, lower-cased."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password_rules(password: str, min_length: int) -> None:
    """Raise Invalid when the password is too short, too long or on the common-password list."""
    if len(password) < min_length:
        raise Invalid(
            _l("Password must be at least %(count)s characters.", count=min_length),
            code="weak_password",
            fields={"password": f"at least {min_length} characters"},
        )
    if len(password) > 256:
        raise Invalid(_l("Password is too long."), code="weak_password", fields={"password": "at most 256 characters"})
    if password.lower() in common_passwords():
        raise Invalid(_l("Password is on the list of common passwords; choose another."),
                      code="weak_password", fields={"password": "too common"})


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
        raise Invalid(_l("Organisation code must be 2-16 capitals, digits or dashes."), fields={"code": "invalid"})
    if kind not in set(OrganisationKind):
        raise Invalid(_l("Unknown organisation kind %(kind)s.", kind=repr(kind)), fields={"kind": "unknown"})
    if session.scalar(select(Organisation.id).where(Organisation.code == code)):
        raise Conflict(_l("Organisation %(code)s exists already.", code=code), code="duplicate",
                       fields={"code": "taken"})
    org = Organisation(code=code, name=name, kind=kind, mou_in_force=mou_in_force, mou_since=mou_since)
    session.add(org)
    session.flush()
    audit.record(session, actor=actor, action="organisation.create", object_type="organisation",
                 object_id=code, now=now)
    return org


def get_organisation(session: Session, code: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound(_l("No organisation %(code)s.", code=code), fields={"org": "unknown"})
    return org


def set_webhook(session: Session, actor: User | None, now: datetime, organisation: Organisation, url: str | None,
                secret: str | None) -> Organisation:
    """Point the organisation's notification webhook at `url` (http or https), signed with `secret` (at least 16
    characters); a blank `url` turns it off. Raises Invalid naming the field. Audited, without the secret."""
    url = (url or "").strip() or None
    if url is None:
        organisation.webhook_url, organisation.webhook_secret = None, None
    else:
        try:
            parsed = urlsplit(url)
            host = parsed.hostname
        except ValueError:  # e.g. a broken IPv6 literal
            host = None
        if host is None or parsed.scheme not in ("http", "https") or len(url) > 500:
            raise Invalid(_l("The webhook must be an http or https URL of at most 500 characters."),
                          fields={"url": "invalid"})
        if not secret or len(secret) < 16 or len(secret) > 200:
            raise Invalid(_l("The webhook secret must be 16 to 200 characters."), fields={"secret": "invalid"})
        organisation.webhook_url, organisation.webhook_secret = url, secret
    session.flush()
    audit.record(session, actor=actor, action="organisation.webhook", object_type="organisation",
                 object_id=organisation.code, now=now, detail={"url": url})
    return organisation


# One address, as a mail server takes it: no display name, no spaces, a dot in the domain.
EMAIL_PATTERN = re.compile(r"^[^@\s<>,;\"\x00-\x1f\x7f]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def checked_email(email: str | None) -> str | None:
    """`email` stripped (None when blank); raises Invalid naming the field when it is not one plain address."""
    email = (email or "").strip()
    if not email:
        return None
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise Invalid(_l("E-mail address %(email)s is not valid.", email=repr(email)), fields={"email": "invalid"})
    return email


def checked_timezone(zone: str | None) -> str | None:
    """`zone` stripped (None when blank: the deployment's zone); raises Invalid naming the field when it is not
    an IANA time zone such as Europe/Belgrade."""
    zone = (zone or "").strip()
    if not zone:
        return None
    if len(zone) > 64 or i18n.zone_named(zone) is None:
        raise Invalid(_l("Unknown time zone %(zone)s.", zone=repr(zone)), fields={"timezone": "unknown"})
    return zone


def set_email(session: Session, actor: User | None, now: datetime, user: User, email: str | None) -> User:
    """Mail `user`'s notifications to `email` (None: no e-mail). Raises Invalid for a bad address. Audited."""
    user.email = checked_email(email)
    session.flush()
    audit.record(session, actor=actor, action="user.email", object_type="user", object_id=user.username,
                 now=now, detail={"email": user.email})
    return user


def set_timezone(session: Session, actor: User | None, now: datetime, user: User, zone: str | None) -> User:
    """Show `user`'s pages in `zone` (None: SAFEHAVEN_TIMEZONE). Raises Invalid for an unknown zone. Audited."""
    user.timezone = checked_timezone(zone)
    session.flush()
    audit.record(session, actor=actor, action="user.timezone", object_type="user", object_id=user.username,
                 now=now, detail={"timezone": user.timezone})
    return user


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
    email: str | None = None,
    timezone: str | None = None,
) -> User:
    """Create an account, managing `shelters` when it is a shelter manager's, notified at `email` if given.

    Raises Invalid for a bad name, role, password, e-mail address or organisation; Conflict when the name is taken.
    """
    if not USERNAME_PATTERN.match(username):
        raise Invalid(
            _l("Username must be 2-64 lower-case letters, digits, dots, dashes or underscores."),
            fields={"username": "invalid"},
        )
    if role not in set(Role):
        raise Invalid(_l("Unknown role %(role)s.", role=repr(role)), fields={"role": "unknown"})
    check_password_rules(password, password_min_length)
    email = checked_email(email)
    timezone = checked_timezone(timezone)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(_l("User %(username)s exists already.", username=username), code="duplicate",
                       fields={"username": "taken"})
    organisation = get_organisation(session, organisation_code) if organisation_code else None
    if shelters and role != Role.SHELTER_MANAGER:
        raise Invalid(_l("Only shelter managers run shelters."), fields={"shelters": "only for shelter_manager"})
    user = User(
        username=username,
        role=role,
        organisation=organisation,
        password_hash=hash_password(password),
        managed_shelters=list(shelters),
        email=email,
        timezone=timezone,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", object_type="user", object_id=username, now=now,
                 detail={"role": role, "shelters": [s.code for s in shelters]})
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_l("No user %(username)s.", username=username), fields={"username": "unknown"})
    return user


def authenticate(session: Session, username: str, password: str, now: datetime, *,
                 totp_roles: str | Sequence[str] = "", max_failures: int = 5, lock_minutes: int = 15) -> User | None:
    """The user when name and password match an active, unlocked account, else None; every outcome audited.

    For a user who has a second factor, or whose role is in `totp_roles` and must enrol one,
    the password is only the first step: success is audited as `login.password` and the
    sign-in completes in `verify_second_factor` (or at enrolment). Each failure counts
    towards the account's lockout (`max_failures` in a row lock it for `lock_minutes`).
    The caller says only "login failed", whatever failed, locked accounts included.
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
    if ok and user is not None and user.active and not user.is_locked(now):
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        if needs_second_factor(user, totp_roles):
            audit.record(session, actor=user, action="login.password", object_type="user",
                         object_id=user.username, now=now)
        else:
            _complete_login(session, user, now)
        return user
    reason = None
    if user is not None and user.is_locked(now):
        reason = "locked"
    elif user is not None and not user.active:
        reason = "disabled"
    audit.record(session, actor=None, actor_name=username[:64] or "?", action="login", object_type="user",
                 object_id=username[:64], now=now, outcome="failed", detail={"reason": reason} if reason else None)
    if user is not None and reason is None:
        _count_failure(session, user, now, max_failures, lock_minutes)
    return None


def _complete_login(session: Session, user: User, now: datetime, **detail: str) -> None:
    user.last_login_at = now
    user.failed_logins = 0
    audit.record(session, actor=user, action="login", object_type="user", object_id=user.username, now=now,
                 detail=detail or None)


def _count_failure(session: Session, user: User, now: datetime, max_failures: int, lock_minutes: int) -> None:
    """One more failed sign-in; the `max_failures`-th in a row locks the account for `lock_minutes`."""
    user.failed_logins += 1
    if user.failed_logins >= max_failures:
        user.locked_until = now + timedelta(minutes=lock_minutes)
        user.failed_logins = 0
        audit.record(session, actor=None, action="user.lockout", object_type="user", object_id=user.username,
                     now=now, detail={"until": user.locked_until.isoformat(), "failures": max_failures})


def unlock(session: Session, actor: User | None, now: datetime, user: User) -> bool:
    """End a lockout and clear the failure count; False when the account was not locked."""
    was_locked = user.is_locked(now)
    user.locked_until = None
    user.failed_logins = 0
    if was_locked:
        audit.record(session, actor=actor, action="user.unlock", object_type="user", object_id=user.username,
                     now=now)
    return was_locked


# --- the second factor (TOTP, RFC 6238) ---------------------------------------------------------------------

TOTP_ISSUER = "Safe Haven"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def totp_required(user: User, required_roles: str | Sequence[str]) -> bool:
    """Whether the user's role must sign in with a second factor (`required_roles`: "admin,police" or a list)."""
    roles = required_roles.split(",") if isinstance(required_roles, str) else required_roles
    return user.role in {r.strip() for r in roles if r.strip()}


def needs_second_factor(user: User, required_roles: str | Sequence[str]) -> bool:
    """Whether signing in takes a second step: the user has a second factor, or must enrol one."""
    return user.has_totp or totp_required(user, required_roles)


def begin_totp_enrolment(session: Session, user: User) -> str:
    """Give the user a fresh, not yet confirmed TOTP secret (kept until confirmed); returns it.

    A user whose second factor is in force keeps it: enrolling again needs an admin reset first.
    """
    if user.has_totp:
        raise Conflict(_l("Two-factor sign-in is set up already."), code="totp_enrolled")
    if user.totp_secret is None:
        user.totp_secret = pyotp.random_base32()
        session.flush()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    if user.totp_secret is None:
        raise Invalid(_l("No TOTP secret to show."))
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time-step (one either side of now) whose code is `code`, if later than `last_step`."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()[:32]


def confirm_totp_enrolment(session: Session, user: User, code: str, now: datetime) -> list[str] | None:
    """Put the pending secret in force when `code` matches it; returns the new recovery codes, shown once.

    None when the code does not match (audited as a failed enrolment).
    """
    if user.totp_secret is None or user.has_totp:
        raise Conflict(_l("No two-factor enrolment in progress."), code="totp_not_pending")
    code = _normalise_code(code)
    step = _matching_step(user.totp_secret, code, now, None) if code.isdigit() and len(code) == 6 else None
    if step is None:
        audit.record(session, actor=user, action="totp.enrol", object_type="user", object_id=user.username,
                     now=now, outcome="failed")
        return None
    user.totp_confirmed_at = now
    user.totp_last_step = step
    audit.record(session, actor=user, action="totp.enrol", object_type="user", object_id=user.username, now=now)
    return new_recovery_codes(session, user, now)


def complete_enrolment_login(session: Session, user: User, now: datetime) -> None:
    """A user who had to enrol during sign-in is signed in by the code that confirmed the enrolment."""
    _complete_login(session, user, now, second_factor="enrolment")


def new_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODE_COUNT fresh ones; returns them (stored hashed)."""
    user.recovery_codes.clear()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        user.recovery_codes.append(RecoveryCode(code_hash=_hasher.hash(raw), created_at=now))
    session.flush()
    audit.record(session, actor=user, action="totp.recovery_codes", object_type="user", object_id=user.username,
                 now=now, detail={"count": RECOVERY_CODE_COUNT})
    return codes


def verify_second_factor(session: Session, user: User, code: str, now: datetime, *,
                         max_failures: int = 5, lock_minutes: int = 15) -> bool:
    """Complete a sign-in with a TOTP code or an unused recovery code; both outcomes audited.

    A TOTP code is accepted once: its time-step is remembered and no code of that step
    or an earlier one is accepted again. A recovery code is spent when used. Failures count
    towards the lockout like wrong passwords.
    """
    normal = _normalise_code(code)
    method = None
    if user.active and user.has_totp and not user.is_locked(now):
        if normal.isdigit() and len(normal) == 6:
            step = _matching_step(user.totp_secret or "", normal, now, user.totp_last_step)
            if step is not None:
                user.totp_last_step = step
                method = "totp"
        elif len(normal) == 10:
            for recovery in user.recovery_codes:
                if recovery.used_at is None and _verify_quietly(recovery.code_hash, normal):
                    recovery.used_at = now
                    method = "recovery_code"
                    break
    if method is not None:
        _complete_login(session, user, now, second_factor=method)
        return True
    audit.record(session, actor=None, actor_name=user.username, action="login", object_type="user",
                 object_id=user.username, now=now, outcome="failed", detail={"step": "second_factor"})
    if user.active and not user.is_locked(now):
        _count_failure(session, user, now, max_failures, lock_minutes)
    return False


def _verify_quietly(hash_: str, value: str) -> bool:
    try:
        return _hasher.verify(hash_, value)
    except (VerificationError, InvalidHashError):
        return False


def reset_totp(session: Session, actor: User | None, now: datetime, user: User) -> None:
    """Remove a user's second factor and recovery codes (a lost device); ends their sessions and tokens."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.recovery_codes.clear()
    _end_sessions(session, actor, now, user)
    audit.record(session, actor=actor, action="totp.reset", object_type="user", object_id=user.username, now=now)


def reauthenticate(session: Session, user: User, password: str, now: datetime, *,
                   max_failures: int = 5, lock_minutes: int = 15) -> bool:
    """Whether a signed-in user entered their own password again, on an account that is not locked; audited.

    A wrong password counts towards the lockout like a failed sign-in, and the `max_failures`-th in a
    row locks the account: the caller then ends the session (`user.is_locked(now)`) and says no more
    than sign-in does. A right one clears the count, as a sign-in does.
    """
    ok = _verify_quietly(user.password_hash, password) and not user.is_locked(now)
    audit.record(session, actor=user, action="reauth", object_type="user", object_id=user.username, now=now,
                 outcome="ok" if ok else "failed")
    if ok:
        user.failed_logins = 0
    elif not user.is_locked(now):
        _count_failure(session, user, now, max_failures, lock_minutes)
    return ok


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, actor: User | None, now: datetime, user: User, days: int) -> str:
    """Create an API token for `user`, valid for `days`; returns the token, which is never stored."""
    if not 1 <= days <= 366:
        raise Invalid(_l("A token lives 1 to 366 days."), fields={"days": "1..366"})
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
    # Every API request signs in: the token and its user in one query, not a second one for the user.
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(raw)).options(joinedload(ApiToken.user))
    )
    if token is None or not token.is_live(now) or not token.user.active:
        return None
    return token.user


def revoke_tokens(session: Session, actor: User | None, now: datetime, user: User, *,
                  actor_name: str | None = None) -> int:
    """Revoke every live token of `user`; returns how many."""
    count = 0
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            count += 1
    audit.record(session, actor=actor, action="token.revoke_all", object_type="user", object_id=user.username,
                 now=now, detail={"revoked": count}, actor_name=actor_name)
    return count


def set_password(session: Session, actor: User | None, now: datetime, user: User, password: str,
                 min_length: int = 12, *, keep_session: str | None = None, actor_name: str | None = None) -> None:
    """Change a password; ends every page session (but `keep_session`, the one making the change) and every
    API token the user had. Raises Invalid when the password breaks the rules (check_password_rules)."""
    check_password_rules(password, min_length)
    user.password_hash = hash_password(password)
    _end_sessions(session, actor, now, user, keep=keep_session, actor_name=actor_name)
    audit.record(session, actor=actor, action="user.password", object_type="user", object_id=user.username, now=now,
                 actor_name=actor_name)


def change_own_password(session: Session, user: User, now: datetime, current: str, new: str, *, keep_session: str,
                        min_length: int = 12, max_failures: int = 5, lock_minutes: int = 15) -> bool:
    """A signed-in user changes their own password: False when `current` is not it (counted towards the
    lockout, as in `reauthenticate`); else the new one is set and every other page session and every API
    token of the user ends, `keep_session` (the one making the change) staying signed in.

    Raises Invalid when the new password breaks the rules.
    """
    if not reauthenticate(session, user, current, now, max_failures=max_failures, lock_minutes=lock_minutes):
        return False
    set_password(session, user, now, user, new, min_length, keep_session=keep_session)
    return True


def set_active(session: Session, actor: User | None, now: datetime, user: User, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions and tokens."""
    if user.active == active:
        return
    user.active = active
    _end_sessions(session, actor, now, user)
    audit.record(session, actor=actor, action="user.enable" if active else "user.disable", object_type="user",
                 object_id=user.username, now=now)


def set_role(session: Session, actor: User | None, now: datetime, user: User, role: str) -> None:
    """Give the user another role; ends their sessions and tokens. A manager's shelters go with the old role.

    Raises Invalid for an unknown role.
    """
    if role not in set(Role):
        raise Invalid(_l("Unknown role %(role)s.", role=repr(role)), fields={"role": "unknown"})
    if user.role == role:
        return
    old = user.role
    user.role = role
    if role != Role.SHELTER_MANAGER:
        user.managed_shelters.clear()
    _end_sessions(session, actor, now, user)
    audit.record(session, actor=actor, action="user.role", object_type="user", object_id=user.username, now=now,
                 detail={"from": old, "to": role})


def set_language(session: Session, user: User, language: str) -> None:
    """Keep the user's choice of interface language. Raises Invalid for a language not offered."""
    if language_code(language) is None:
        raise Invalid(_l("Unknown language %(language)s.", language=repr(language)), fields={"language": "unknown"})
    user.locale = language


def _end_sessions(session: Session, actor: User | None, now: datetime, user: User, *, keep: str | None = None,
                  actor_name: str | None = None) -> None:
    """Every page session of the user ends (but `keep`, the raw id of the one making the change) and every
    API token is revoked."""
    live = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        live = live.where(UserSession.token_hash != _token_digest(keep))
    session.execute(live.values(ended_at=now, end_reason=SessionEnd.REVOKED))
    revoke_tokens(session, actor, now, user, actor_name=actor_name)


# --- page sessions ------------------------------------------------------------------------------------------

def open_session(session: Session, user: User, now: datetime) -> str:
    """Record a new page session of `user`; returns its random id for the browser's cookie (only its
    SHA-256 is stored)."""
    raw = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=_token_digest(raw), created_at=now))
    session.flush()
    return raw


def user_for_session(session: Session, user_id: int, raw: str, now: datetime, max_hours: int) -> User | None:
    """The active user `user_id` when `raw` is the id of one of their live page sessions (not ended, begun
    less than `max_hours` ago), else None.

    Every page request asks: one query for the user and the session together, and it writes nothing.
    """
    return session.scalar(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_id, User.active.is_(True), UserSession.token_hash == _token_digest(raw),
               UserSession.ended_at.is_(None), UserSession.created_at > now - timedelta(hours=max_hours))
    )


# A kept form is handed back to a sign-in at most this long after it was kept, and is at most this big.
KEPT_FORM_HOURS = 12
KEPT_FORM_MAX_CHARS = 200_000


def _session_record(session: Session, raw: str) -> UserSession | None:
    return session.scalar(select(UserSession).where(UserSession.token_hash == _token_digest(raw)))


def keep_form(session: Session, raw: str, path: str, fields: Sequence[tuple[str, str]], now: datetime) -> bool:
    """Keep a form posted to `path` with the page session whose id is `raw` (open or ended), for its user's
    next sign-in on this browser (`carry_kept_form`). Only on the server, encrypted; a later form replaces it.
    False, keeping nothing, for an unknown session or a form too big to keep."""
    record = _session_record(session, raw)
    text = json.dumps({"path": path, "fields": [list(pair) for pair in fields], "at": now.isoformat()})
    if record is None or len(text) > KEPT_FORM_MAX_CHARS:
        return False
    record.kept_form = text
    session.flush()
    return True


def carry_kept_form(session: Session, old_raw: str, new_raw: str, user: User, now: datetime) -> str | None:
    """Move the form kept with the ended session `old_raw` to the new session `new_raw` when both are
    `user`'s and it was kept less than KEPT_FORM_HOURS ago; returns its path, else None. Someone else
    signing in on the same browser never receives it (and it stays where it was)."""
    old, new = _session_record(session, old_raw), _session_record(session, new_raw)
    if old is None or new is None or old.kept_form is None or old.user_id != user.id or new.user_id != user.id:
        return None
    kept = json.loads(old.kept_form)
    old.kept_form = None
    if datetime.fromisoformat(kept["at"]) < now - timedelta(hours=KEPT_FORM_HOURS):
        session.flush()
        return None
    new.kept_form = json.dumps(kept)
    session.flush()
    return str(kept["path"])


def kept_form_path(session: Session, raw: str) -> str | None:
    """The path of the form kept with the live session `raw`, leaving it there."""
    record = _session_record(session, raw)
    if record is None or record.ended_at is not None or record.kept_form is None:
        return None
    return str(json.loads(record.kept_form)["path"])


def take_kept_form(session: Session, raw: str) -> tuple[str, list[tuple[str, str]]] | None:
    """The (path, fields) of the form kept with the live session `raw`, removed from it: handed back once."""
    record = _session_record(session, raw)
    if record is None or record.ended_at is not None or record.kept_form is None:
        return None
    kept = json.loads(record.kept_form)
    record.kept_form = None
    session.flush()
    return str(kept["path"]), [(str(name), str(value)) for name, value in kept["fields"]]


def end_session(session: Session, raw: str, now: datetime, reason: SessionEnd) -> None:
    """End the page session whose id is `raw`, if it is still open; nothing for an unknown or ended one
    (and then nothing is written)."""
    record = session.scalar(select(UserSession).where(UserSession.token_hash == _token_digest(raw),
                                                      UserSession.ended_at.is_(None)))
    if record is not None:
        record.ended_at = now
        record.end_reason = reason
        session.flush()
