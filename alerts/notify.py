"""Notifications: who hears of what in placement, written to the outbox with the event that causes it.

A bed reserved at a shelter -> every manager of that shelter; a request accepted, rejected, expired or
admitted -> the officer who made it; a held bed about to run out -> the shelter's managers; a request no
shelter accepted in time (emergency 15 minutes, urgent 60, routine 4 hours) -> the secretariat, with the
`placement_unanswered` alert. Placement tells `placement.services.TRANSITION_LISTENERS` of every
transition, in its own transaction, so a rolled-back transition notifies nobody and a committed one is
never forgotten; the clock's events are found by `scan` (the scheduler's `notify` job).

What a notification may carry is fixed here, for every channel: the event, the request number, the urgency,
minutes, and the shelter code only where the recipient may know it (placement.permissions.shows_shelter).
Never a case code, a profile, a name or an address: mail and webhooks leave the building. Texts are
composed at delivery (alerts/delivery.py) in the recipient's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from accounts.models import Role, User
from alerts import jobs, rules, services
from alerts.models import Alert, Channel, Notification
from alerts.rules import Thresholds
from placement import permissions as placement_permissions
from placement import services as placement_services
from placement.models import HOLDING, PlacementRequest, RequestStatus
from shelters.models import Reservation

RESERVED = "reserved"
ACCEPTED = "accepted"
REJECTED = "rejected"
EXPIRED = "expired"
ADMITTED = "admitted"
HOLD_EXPIRING = "hold_expiring"
ESCALATED = "escalated"
EVENTS = (RESERVED, ACCEPTED, REJECTED, EXPIRED, ADMITTED, HOLD_EXPIRING, ESCALATED)

# The only keys a notification's facts may hold (tests/alerts/test_notify.py holds every message to this).
FACT_KEYS = frozenset({"request", "urgency", "shelter", "minutes"})

# Transitions the requesting officer hears of.
_TO_REQUESTER = {RequestStatus.ACCEPTED: ACCEPTED, RequestStatus.REJECTED: REJECTED,
                 RequestStatus.EXPIRED: EXPIRED, RequestStatus.ADMITTED: ADMITTED}


def channels(user: User) -> list[str]:
    """How `user` can be reached: by e-mail when they have an address, by their organisation's webhook."""
    found = []
    if user.email:
        found.append(Channel.EMAIL)
    organisation = user.organisation
    if organisation is not None and getattr(organisation, "webhook_url", None):
        found.append(Channel.WEBHOOK)
    return found


def facts(user: User, request: PlacementRequest, **extra: Any) -> dict[str, Any]:
    """What `user` may be told about `request`: its number, its urgency, and its shelter only where allowed."""
    shelter = request.shelter.code if request.shelter and placement_permissions.shows_shelter(user, request) else None
    told = {"request": request.id, "urgency": request.urgency, "shelter": shelter, **extra}
    if not set(told) <= FACT_KEYS:
        raise ValueError(f"a notification may not carry {sorted(set(told) - FACT_KEYS)}")
    return told


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def enqueue(session: Session, now: datetime, event: str, users: Iterable[User], request: PlacementRequest,
            once: str | None = None, **extra: Any) -> int:
    """Write one outbox row per reachable active user and channel; returns how many were written.

    With `once`, a row is written only the first time for its key (`once`:user:channel), however often the
    clock's scan finds the same event; without it, every call writes (a transition happens once).
    """
    written = 0
    for user in users:
        if not user.active:
            continue
        told = facts(user, request, **extra)
        for channel in channels(user):
            values = {"channel": str(channel), "event": event, "user_id": user.id, "request_id": request.id,
                      "facts": told, "created_at": now, "due_at": now, "attempts": 0}
            if once is None:
                session.add(Notification(**values))
                written += 1
                continue
            key = f"{once}:{user.id}:{channel}"
            result = session.execute(_insert(session)(Notification).values(once_key=key, **values)
                                     .on_conflict_do_nothing(index_elements=["once_key"]))
            written += int(result.rowcount or 0)
    session.flush()
    return written


def on_transition(session: Session, now: datetime, request: PlacementRequest, from_status: str | None) -> None:
    """The listener placement calls after each transition: reserved -> the shelter's managers; accepted,
    rejected, expired, admitted -> the requesting officer."""
    if request.status == RequestStatus.RESERVED and request.shelter is not None:
        enqueue(session, now, RESERVED, request.shelter.managers, request)
    elif request.status in _TO_REQUESTER:
        enqueue(session, now, _TO_REQUESTER[RequestStatus(request.status)], [request.requested_by], request)


if on_transition not in placement_services.TRANSITION_LISTENERS:
    placement_services.TRANSITION_LISTENERS.append(on_transition)


def secretariat(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.SECRETARIAT, User.active.is_(True))
                                .order_by(User.id)))


def escalate(session: Session, now: datetime, thresholds: Thresholds) -> int:
    """Tell the secretariat, once per request, of every request no shelter accepted in time for its urgency,
    and open its `placement_unanswered` alert at once (the hourly evaluation keeps it up to date). Returns how
    many notifications were written."""
    decisions = jobs.placement_unanswered_decisions(session, now, thresholds)
    if not decisions:
        return 0
    live = set(session.scalars(select(Alert.subject).where(
        Alert.kind == rules.PLACEMENT_UNANSWERED, Alert.status.in_(services.LIVE))))
    if {d.subject for d in decisions} - live:
        services.upsert(session, now, decisions, [rules.PLACEMENT_UNANSWERED])
    staff = secretariat(session)
    written = 0
    for decision in decisions:
        request = session.get(PlacementRequest, int(decision.subject))
        if request is None:
            continue
        written += enqueue(session, now, ESCALATED, staff, request, once=f"escalated:{request.id}",
                           minutes=int(decision.figures["minutes"]))
    return written


def warn_of_expiring_holds(session: Session, now: datetime, warning: timedelta) -> int:
    """Tell a shelter's managers, once per hold and deadline, that a bed held for a request runs out within
    `warning`. Returns how many notifications were written."""
    rows = session.execute(
        select(PlacementRequest, Reservation.held_until)
        .join(Reservation, PlacementRequest.reservation_id == Reservation.id)
        .where(PlacementRequest.status.in_(HOLDING), Reservation.released_at.is_(None),
               Reservation.held_until > now, Reservation.held_until <= now + warning)
        .order_by(PlacementRequest.id)
    ).all()
    written = 0
    for request, held_until in rows:
        if request.shelter is None:
            continue
        minutes = max(1, int((held_until - now).total_seconds() // 60))
        written += enqueue(session, now, HOLD_EXPIRING, request.shelter.managers, request,
                           once=f"hold:{request.reservation_id}:{int(held_until.timestamp())}", minutes=minutes)
    return written


def scan(session: Session, now: datetime, config: Any) -> int:
    """The clock's events as of `now`: escalations and holds about to run out. Flushes; returns rows written."""
    warning = timedelta(minutes=int(config.get("SAFEHAVEN_NOTIFY_HOLD_WARNING_MINUTES") or 30))
    return escalate(session, now, Thresholds.from_config(config)) + warn_of_expiring_holds(session, now, warning)


# --- the words -----------------------------------------------------------------------------------------------


def urgency_word(urgency: str) -> str:
    return {"emergency": pgettext("urgency", "emergency"), "urgent": pgettext("urgency", "urgent"),
            "routine": pgettext("urgency", "routine")}.get(urgency, urgency)


def compose(event: str, told: dict[str, Any], link: str) -> tuple[str, str]:
    """Subject and plain-text body of a notification, in the current locale (the caller forces the recipient's).

    Uses only `told` (the facts) and `link`; nothing else can reach a message.
    """
    request, urgency = told["request"], urgency_word(str(told["urgency"]))
    shelter, minutes = told.get("shelter"), int(told.get("minutes") or 0)
    if event == RESERVED:
        subject = _("Request %(request)s (%(urgency)s): a bed is held at %(shelter)s", request=request,
                    urgency=urgency, shelter=shelter)
        what = _("A bed at %(shelter)s is held for placement request %(request)s. Please accept or reject it.",
                 shelter=shelter, request=request)
    elif event == ACCEPTED:
        subject = _("Request %(request)s: the shelter accepted", request=request)
        what = (_("Shelter %(shelter)s accepted placement request %(request)s; the bed is held for the journey.",
                  shelter=shelter, request=request) if shelter else
                _("The shelter accepted placement request %(request)s.", request=request))
    elif event == REJECTED:
        subject = _("Request %(request)s: the shelter declined", request=request)
        what = _("The shelter declined placement request %(request)s and the bed is free again. "
                 "Please reserve another shelter.", request=request)
    elif event == EXPIRED:
        subject = _("Request %(request)s: the held bed ran out", request=request)
        what = _("The bed held for placement request %(request)s was released because its time ran out. "
                 "Please reserve again.", request=request)
    elif event == ADMITTED:
        subject = _("Request %(request)s: admitted", request=request)
        what = _("The person of placement request %(request)s has been admitted to the shelter.", request=request)
    elif event == HOLD_EXPIRING:
        subject = _("Request %(request)s: the bed held at %(shelter)s runs out in %(minutes)s min",
                    request=request, shelter=shelter, minutes=minutes)
        what = _("The bed held at %(shelter)s for placement request %(request)s is released in %(minutes)s "
                 "minutes unless the shelter decides.", shelter=shelter, request=request, minutes=minutes)
    elif event == ESCALATED:
        subject = _("Request %(request)s (%(urgency)s) unanswered for %(minutes)s min", request=request,
                    urgency=urgency, minutes=minutes)
        what = _("No shelter has accepted placement request %(request)s (%(urgency)s) in %(minutes)s minutes.",
                 request=request, urgency=urgency, minutes=minutes)
    else:
        raise ValueError(f"unknown notification event {event!r}")
    lines = [what, "", _("Request: %(request)s", request=request), _("Urgency: %(urgency)s", urgency=urgency)]
    if shelter:
        lines.append(_("Shelter: %(shelter)s", shelter=shelter))
    lines += [_("Open: %(link)s", link=link), "",
              _("This message carries no case details; sign in to read them.")]
    return f"[Safe Haven] {subject}", "\n".join(lines) + "\n"
