"""The secretariat's action plan: what will be done to use the shelters better, by whom and by when.

An action names what, the organisation that owns it, a due date and a status, and links the shelters and
alerts it answers (relationships by name: reports reads shelters and alerts, never the reverse).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db

if TYPE_CHECKING:
    from accounts.models import Organisation, User
    from alerts.models import Alert
    from shelters.models import Shelter


class ActionStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


OPEN_STATUSES = (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS)

action_shelters = Table(
    "action_shelters", db.metadata,
    Column("action_id", ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True),
    Column("shelter_id", ForeignKey("shelters.id", ondelete="CASCADE"), primary_key=True, index=True),
)
action_alerts = Table(
    "action_alerts", db.metadata,
    Column("action_id", ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True),
    Column("alert_id", ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Action(db.Model):
    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.PLANNED)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

    owner: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship()
    shelters: Mapped[list[Shelter]] = relationship(secondary=action_shelters, order_by="Shelter.code")
    alerts: Mapped[list[Alert]] = relationship(secondary=action_alerts, order_by="Alert.id")
