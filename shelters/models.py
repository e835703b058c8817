"""Shelters, the cases (victims, by pseudonymous code) they take in, and their stays.

Occupancy is never typed in: it is derived from open stays. A shelter's
capacity history (`CapacityChange`) keeps bed-night figures true when capacity
changes mid-window; headcounts record what a manager confirmed.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import EncryptedText, JSONType, utcnow
from extensions import db

if TYPE_CHECKING:
    from accounts.models import Organisation, User


class ShelterStatus(enum.StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Ages(enum.StrEnum):
    ADULTS = "adults"
    MINORS = "minors"
    ALL = "all"


class Security(enum.StrEnum):
    STANDARD = "standard"
    HIGH = "high"


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CaseStatus(enum.StrEnum):
    IDENTIFIED = "identified"
    AWAITING_PLACEMENT = "awaiting_placement"
    PLACED = "placed"
    DECLINED_SHELTER = "declined_shelter"
    DISCHARGED = "discharged"


class DischargeReason(enum.StrEnum):
    REPATRIATED = "repatriated"
    REINTEGRATED = "reintegrated"
    TRANSFERRED = "transferred"
    LEFT_VOLUNTARILY = "left_voluntarily"
    OTHER = "other"


# What "location" means (docs/security.md): where a shelter is. Which shelter holds a case is a location too,
# since shelters are few and known; shelters.permissions and placement.permissions guard both.
LOCATION_FIELDS = ("municipality", "lat", "lon", "address", "telephone")

SERVICES = (
    "medical",
    "psychological",
    "legal",
    "interpretation",
    "vocational",
    "disability_access",
    "childcare",
    "education",
)

EXPLOITATION_FORMS = ("sexual", "labour", "begging", "criminal_activity", "forced_marriage", "other")


shelter_managers = Table(
    "shelter_managers",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("shelter_id", ForeignKey("shelters.id", ondelete="CASCADE"), primary_key=True),
)


class Shelter(db.Model):
    __tablename__ = "shelters"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        CheckConstraint("out_of_service >= 0 AND out_of_service <= capacity", name="out_of_service_in_range"),
        CheckConstraint("children_capacity >= 0", name="children_capacity_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(32), default="ngo")
    region: Mapped[str] = mapped_column(String(64), index=True)
    # The shelter's location (LOCATION_FIELDS): its municipality, coordinates, address and telephone. Shown only
    # to the secretariat and the shelter's own managers (and the address and telephone to an officer whose
    # request the shelter accepted); every showing is audited. See shelters.permissions.
    municipality: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    address: Mapped[str | None] = mapped_column(Text)
    telephone: Mapped[str | None] = mapped_column(String(40))
    capacity: Mapped[int]
    out_of_service: Mapped[int] = mapped_column(default=0)
    sexes: Mapped[list[str]] = mapped_column(JSONType, default=lambda: ["female"])
    ages: Mapped[str] = mapped_column(String(16), default=Ages.ADULTS)
    children_capacity: Mapped[int] = mapped_column(default=0)
    services: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    security: Mapped[str] = mapped_column(String(16), default=Security.STANDARD)
    status: Mapped[str] = mapped_column(String(16), default=ShelterStatus.OPEN)
    last_headcount_at: Mapped[datetime | None]
    # The day the shelter opened: its capacity history, and so its bed-nights, start then, and no stay begins
    # before it.
    opened_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    # Concurrent writers of the same row cannot overwrite each other silently.
    __mapper_args__ = {"version_id_col": version}

    operator: Mapped[Organisation | None] = relationship()
    managers: Mapped[list[User]] = relationship(
        secondary=shelter_managers, back_populates="managed_shelters", order_by="User.username"
    )

    @property
    def usable(self) -> int:
        return self.capacity - self.out_of_service


class CapacityChange(db.Model):
    """The usable capacity from `effective_at` until the next change: bed-nights available."""

    __tablename__ = "capacity_changes"
    __table_args__ = (Index("ix_capacity_changes_shelter_time", "shelter_id", "effective_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id", ondelete="CASCADE"))
    effective_at: Mapped[datetime]
    capacity: Mapped[int]
    out_of_service: Mapped[int]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Case(db.Model):
    """A victim, known to the system only by a pseudonymous case code."""

    __tablename__ = "cases"
    __table_args__ = (CheckConstraint("children >= 0", name="children_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    sex: Mapped[str] = mapped_column(String(8))
    birth_year: Mapped[int]
    nationality: Mapped[str] = mapped_column(String(2))
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    exploitation: Mapped[list[str]] = mapped_column(JSONType, default=list)
    needs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    children: Mapped[int] = mapped_column(default=0)
    risk: Mapped[str] = mapped_column(String(8), default=Risk.MEDIUM)
    trafficker_regions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    region: Mapped[str | None] = mapped_column(String(64))
    identified_on: Mapped[date] = mapped_column(index=True)
    identified_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=CaseStatus.IDENTIFIED)
    resolution: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optional free text the secretariat may keep (e.g. a document number): encrypted at rest, shown
    # only on the case's own page and API answer to the secretariat, each read audited; never in a
    # list, log or export. Cleared, with the other details, when a closed case is anonymised.
    identifying_details: Mapped[str | None] = mapped_column(EncryptedText)
    anonymised: Mapped[bool] = mapped_column(default=False, server_default=false())
    # "SHELTER/REFERENCE" for a resident brought in by bulk import (shelters/imports.py): the shelter's own
    # pseudonymous file number, never a name; a second upload of the same file finds the case by it.
    intake_reference: Mapped[str | None] = mapped_column(String(60), unique=True)

    identified_by: Mapped[Organisation | None] = relationship()
    stays: Mapped[list[Stay]] = relationship(back_populates="case", order_by="Stay.admitted_at")

    def age_on(self, day: date) -> int:
        return day.year - self.birth_year

    def is_minor_on(self, day: date) -> bool:
        return self.age_on(day) < 18


class Stay(db.Model):
    """A case in a shelter from admission to discharge; occupies 1 + children beds while open."""

    __tablename__ = "stays"
    __table_args__ = (
        # No case is ever in two shelters at once, however the writes race.
        Index(
            "uq_stays_one_open_per_case",
            "case_id",
            unique=True,
            sqlite_where=text("discharged_at IS NULL"),
            postgresql_where=text("discharged_at IS NULL"),
        ),
        Index("ix_stays_shelter_open", "shelter_id", "discharged_at"),
        # Covers shelters.figures: occupancy reads the open stays (discharged_at IS NULL) in shelter order,
        # utilisation the open ones and those discharged since the window began, from the index alone;
        # its leading column serves every other scan of stays by their end.
        Index("ix_stays_figures", "discharged_at", "shelter_id", "beds", "admitted_at"),
        CheckConstraint("beds >= 1", name="beds_positive"),
        CheckConstraint("discharged_at IS NULL OR discharged_at >= admitted_at", name="discharge_after_admission"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id"))
    beds: Mapped[int] = mapped_column(default=1)
    admitted_at: Mapped[datetime]
    admitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    discharged_at: Mapped[datetime | None]
    discharged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    discharge_reason: Mapped[str | None] = mapped_column(String(24))
    discharge_note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="stays")
    shelter: Mapped[Shelter] = relationship()

    @property
    def is_open(self) -> bool:
        return self.discharged_at is None


class Reservation(db.Model):
    """Beds held at a shelter until `held_until`; held beds are not free.

    Placement requests take reservations; they live here because a shelter's
    free beds depend on them and `shelters` reads nothing from `placement`.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_live", "shelter_id", "released_at", "held_until"),
        CheckConstraint("beds >= 1", name="beds_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id"))
    # The case the beds are held for: its shelter's manager may read it and admit it while the hold is live.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    beds: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    held_until: Mapped[datetime]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(24))

    shelter: Mapped[Shelter] = relationship()


class Headcount(db.Model):
    """A manager's confirmation of how many beds are taken, against what the records say."""

    __tablename__ = "headcounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    shelter_id: Mapped[int] = mapped_column(ForeignKey("shelters.id"), index=True)
    at: Mapped[datetime]
    reported: Mapped[int]
    recorded: Mapped[int]
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def matches(self) -> bool:
        return self.reported == self.recorded
