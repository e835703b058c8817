"""Placement requests and their timelines.

A request asks a bed for one case. Its state machine:

    open -> reserved -> accepted -> admitted
    reserved | accepted -> rejected (by the shelter) -> reserved again elsewhere
    reserved | accepted -> expired (the hold ran out) -> reserved again
    any state before admitted -> declined (the victim declined shelter) | cancelled

The suggestions are stored as they were shown, so the secretariat can later
see what the officer saw.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import JSONType
from extensions import db

if TYPE_CHECKING:
    from accounts.models import User
    from shelters.models import Case, Reservation, Shelter, Stay


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    RESERVED = "reserved"
    ACCEPTED = "accepted"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Urgency(enum.StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"


# Requests still waiting for a bed or holding one; at most one per case.
ACTIVE = (RequestStatus.OPEN, RequestStatus.RESERVED, RequestStatus.ACCEPTED, RequestStatus.REJECTED,
          RequestStatus.EXPIRED)
# Requests that wait for a bed without holding one: what the batch assigns.
WAITING = (RequestStatus.OPEN, RequestStatus.REJECTED, RequestStatus.EXPIRED)
HOLDING = (RequestStatus.RESERVED, RequestStatus.ACCEPTED)
_ACTIVE_SQL = "status IN ('open', 'reserved', 'accepted', 'rejected', 'expired')"

DECLINE_REASONS = (
    "fear_of_traffickers",
    "wants_to_return_home",
    "distrust_of_authorities",
    "family_or_children",
    "shelter_too_far",
    "shelter_rules",
    "stays_with_family_or_friends",
    "other",
)

# Why a shelter refuses a request it holds a bed for ('other' needs a note; a note may go with any code).
REJECT_REASONS = (
    "no_free_bed",
    "cannot_meet_needs",
    "security_concern",
    "no_staff_available",
    "other",
)


class PlacementRequest(db.Model):
    __tablename__ = "placement_requests"
    __table_args__ = (
        # One live request per case, however requests race.
        Index(
            "uq_placement_requests_one_active_per_case",
            "case_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_placement_requests_status", "status"),
        Index("ix_placement_requests_shelter_status", "shelter_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.URGENT)
    region: Mapped[str | None] = mapped_column(String(64))
    exclude: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.OPEN)
    # The shelter holding (or last holding) a bed for this request.
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("shelters.id"))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    # For a transfer: the stay the resident leaves when the new one opens.
    transfer_from_stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    suggestions: Mapped[list[dict]] = mapped_column(JSONType, default=list)
    excluded: Mapped[list[dict]] = mapped_column(JSONType, default=list)
    reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    case: Mapped[Case] = relationship()
    requested_by: Mapped[User] = relationship()
    shelter: Mapped[Shelter | None] = relationship()
    reservation: Mapped[Reservation | None] = relationship()
    stay: Mapped[Stay | None] = relationship(foreign_keys=[stay_id])
    transfer_from: Mapped[Stay | None] = relationship(foreign_keys=[transfer_from_stay_id])
    events: Mapped[list[PlacementEvent]] = relationship(back_populates="request", order_by="PlacementEvent.id")


class PlacementEvent(db.Model):
    """One transition of a request: when, who, from which state to which, and why."""

    __tablename__ = "placement_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("placement_requests.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    shelter_code: Mapped[str | None] = mapped_column(String(16))
    # A rejection's REJECT_REASONS code (its free text in `note`); null on every other transition.
    reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)

    request: Mapped[PlacementRequest] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
