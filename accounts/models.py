"""People and organisations, their page sessions and API tokens, and the audit log."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import DDL, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import EncryptedText, JSONType, utcnow
from extensions import db

if TYPE_CHECKING:
    from shelters.models import Shelter


class Role(enum.StrEnum):
    ADMIN = "admin"
    SECRETARIAT = "secretariat"
    SHELTER_MANAGER = "shelter_manager"
    POLICE = "police"
    PARTNER = "partner"


class OrganisationKind(enum.StrEnum):
    POLICE = "police"
    SHELTER_OPERATOR = "shelter_operator"
    MINISTRY = "ministry"
    SECRETARIAT = "secretariat"
    NGO = "ngo"
    INTERNATIONAL = "international"


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    mou_in_force: Mapped[bool] = mapped_column(default=False)
    mou_since: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optional: notifications for the organisation's users are also POSTed here as JSON (alerts/webhooks.py),
    # signed with HMAC-SHA256 under the secret (encrypted at rest).
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # TOTP (RFC 6238): the base32 secret (encrypted at rest), set at enrolment and in force once a first
    # code confirmed it; the last time-step accepted, so a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # Lockout: consecutive failed sign-ins (password or second factor) and the end of a lockout.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # The interface language chosen on the language switch ("sq", "sr", "en"); None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(8))
    # Where notifications are mailed (alerts/notify.py); None: the user gets none by e-mail.
    email: Mapped[str | None] = mapped_column(String(254))
    # The IANA time zone pages show this user's times in; None follows SAFEHAVEN_TIMEZONE.
    timezone: Mapped[str | None] = mapped_column(String(64))

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
    managed_shelters: Mapped[list[Shelter]] = relationship(
        secondary="shelter_managers", back_populates="managers", order_by="Shelter.code"
    )
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None and self.totp_confirmed_at is not None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    # Flask-Login's protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def manages(self, shelter_id: int) -> bool:
        return self.role == Role.SHELTER_MANAGER and any(s.id == shelter_id for s in self.managed_shelters)


class SessionEnd(enum.StrEnum):
    """Why a page session ended."""

    SIGNED_OUT = "signed_out"  # the user signed out, or signed in again in the same browser
    IDLE = "idle"  # no request for SAFEHAVEN_SESSION_IDLE_MINUTES
    EXPIRED = "expired"  # refused on a request: older than SAFEHAVEN_SESSION_MAX_HOURS
    LOCKED = "locked"  # failed re-authentications locked the account
    REVOKED = "revoked"  # a password, role, status or second-factor change ended the user's sessions


class UserSession(db.Model):
    """A page session, kept on the server. The browser's signed cookie carries its random id, of which only
    the SHA-256 is stored; once the session has ended, a copy of the cookie is refused whatever it says."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))
    # A form posted after the session ran out (JSON: its path and fields), kept for the same user's next
    # sign-in on this browser, then handed back once. Encrypted: it may hold a victim's profile.
    kept_form: Mapped[str | None] = mapped_column(EncryptedText)


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class RecoveryCode(db.Model):
    """A single-use second-factor code for a lost authenticator; only its argon2 hash is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class IdempotencyKey(db.Model):
    """An API POST made with an `Idempotency-Key` header, and the response it got.

    A retry with the same key (same user, same request) gets the stored response instead of acting
    twice; the same key with a different request is refused. The response may hold case data, so it
    is encrypted at rest and the rows expire (see `SAFEHAVEN_IDEMPOTENCY_HOURS`).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: the same key reused for another request is a client error.
    request_hash: Mapped[str] = mapped_column(String(64))
    # None while the first request is still being handled.
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(EncryptedText)
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEvent(db.Model):
    """One entry of the append-only, keyed-hash-chained audit log (accounts/audit.py).

    `hash` is an HMAC-SHA256, under the audit key named by `key_id` (kept outside the
    database), of every other column and the previous event's MAC, so editing, deleting
    or reordering any event breaks the chain from that event on. Ids are given by the
    chain itself (previous + 1), never by a sequence, so they are contiguous from 1.
    Nothing here names a victim: objects are referred to by case or shelter code.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_action_at", "action", "at"),  # reads per hour (the unusual_access alert)
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(16))


# The database itself refuses to edit or delete an audit event (the migration creates the same
# triggers). Someone with the rights to drop a trigger can still tamper; the keyed chain and the
# anchors outside the database then show it (docs/security.md).
APPEND_ONLY_DDL = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
        "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    ],
}
DROP_APPEND_ONLY_DDL = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events"],
}
for _dialect, _statements in APPEND_ONLY_DDL.items():
    for _statement in _statements:
        event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
