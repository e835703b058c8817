"""Alerts and their action notes, the scheduler's lease, and the daily census.

One alert that is not resolved per (kind, subject_type, subject): re-evaluation
updates it, never duplicates it, and a partial unique index holds that however
two evaluations race. `CensusDay` keeps per-shelter daily figures, so long
histories need not be recomputed from stays.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import JSONType
from extensions import db

if TYPE_CHECKING:
    from accounts.models import User
    from shelters.models import Shelter


# The kinds of alert are named once, in alerts.rules (pure, importable without a database).


class SubjectType(enum.StrEnum):
    SHELTER = "shelter"
    COUNTRY = "country"
    REQUEST = "request"
    USER = "user"
    SYSTEM = "system"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# Most severe first: the review queue's order.
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        # One live alert per kind and subject, however evaluations race.
        Index(
            "uq_alerts_one_live_per_subject",
            "kind",
            "subject_type",
            "subject",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_alerts_status", "status"),
        Index("ix_alerts_shelter_status", "shelter_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(16))
    # A shelter code, a country or region code, a request or user id, a job name.
    subject: Mapped[str] = mapped_column(String(64))
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("shelters.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN)
    figures: Mapped[dict] = mapped_column(JSONType, default=dict)
    message: Mapped[str] = mapped_column(String(500))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)

    shelter: Mapped[Shelter | None] = relationship()
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    comments: Mapped[list[AlertComment]] = relationship(back_populates="alert", order_by="AlertComment.id")


class AlertComment(db.Model):
    """An action note on an alert: what someone did or will do about it."""

    __tablename__ = "alert_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text)

    alert: Mapped[Alert] = relationship(back_populates="comments")
    user: Mapped[User | None] = relationship()


class SchedulerLease(db.Model):
    """Who runs the scheduled jobs: the holder until `expires_at`; a standby takes over after that."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class CensusDay(db.Model):
    """A shelter's figures as recorded once a day."""

    __tablename__ = "census_days"
    __table_args__ = (UniqueConstraint("shelter_id", "day", name="uq_census_days_shelter_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id", ondelete="CASCADE"))
    day: Mapped[date]
    occupied: Mapped[int]
    reserved: Mapped[int]
    capacity: Mapped[int]
    out_of_service: Mapped[int]
    recorded_at: Mapped[datetime]


class Channel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Notification(db.Model):
    """One message in the outbox, written in the transaction of the event that causes it (alerts/notify.py).

    It holds facts, never text: the event, the request number, its urgency, the shelter code only where the
    recipient may know it. The text is composed at delivery in the recipient's language. A deliverer claims
    rows (`claimed_by`, `claimed_until`) in a committed transaction before sending, so two deliverers never
    send one twice and the rows of a killed one are taken up again once its claim runs out; a failed send is
    tried again at `due_at`, later each time.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "sent_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("placement_requests.id"), index=True)
    facts: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Events raised by the clock (an escalation, a hold about to run out) are written once per key.
    once_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
