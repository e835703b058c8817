"""The scheduled jobs: gather figures with SQL, call the pure rules, upsert alerts.

Plain functions taking the session and `now` (and the thresholds): the
scheduler wraps them in an app context and commits; tests call them directly
with a fixed `now`. Aggregation happens in the database (GROUP BY), never by
looping over rows in Python.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, select, type_coerce, update
from sqlalchemy.orm import Session

from accounts.models import AuditEvent
from alerts import rules, services
from alerts.models import CensusDay
from alerts.rules import Thresholds
from alerts.services import Summary
from database import UTCDateTime
from placement.models import WAITING, PlacementRequest, RequestStatus
from shelters import figures
from shelters.models import CapacityChange, Case, Reservation, Shelter, Stay


@dataclass(frozen=True)
class UnansweredPlacement:
    request_id: int
    shelter_code: str | None
    requested_at: datetime
    urgency: str = "routine"


def shelter_figures(session: Session, now: datetime, t: Thresholds,
                    shelter_ids: Collection[int] | None = None) -> list[rules.ShelterFigures]:
    """Every shelter's figures as of `now` (or only those of `shelter_ids`, filtered in SQL), ordered by
    code, in a fixed number of grouped queries."""
    at = literal(now, UTCDateTime())
    present = Stay.discharged_at.is_(None) | (Stay.discharged_at > at)
    residents_q = (
        select(
            Stay.shelter_id,
            type_coerce(func.max(case((present, at), else_=Stay.discharged_at)), UTCDateTime()),
            func.sum(case((present, 1), else_=0)),
        )
        .where(Stay.admitted_at <= at)
        .group_by(Stay.shelter_id)
    )
    # A shelter is in service from its first capacity record (registration may be backdated).
    in_service_q = (select(CapacityChange.shelter_id, type_coerce(func.min(CapacityChange.effective_at), UTCDateTime()))
                    .group_by(CapacityChange.shelter_id))
    # Only the columns the rules read: a whole Shelter would also decode its JSON lists, for nothing.
    shelters_q = select(Shelter.id, Shelter.code, Shelter.status, Shelter.created_at, Shelter.capacity,
                        Shelter.out_of_service, Shelter.last_headcount_at).order_by(Shelter.code)
    if shelter_ids is not None:
        shelter_ids = list(shelter_ids)
        residents_q = residents_q.where(Stay.shelter_id.in_(shelter_ids))
        in_service_q = in_service_q.where(CapacityChange.shelter_id.in_(shelter_ids))
        shelters_q = shelters_q.where(Shelter.id.in_(shelter_ids))
    residents = {sid: (last, int(present_count or 0)) for sid, last, present_count in session.execute(residents_q)}
    in_service_since = dict(session.execute(in_service_q).all())
    occupancy = figures.occupancy(session, now, shelter_ids)
    utilisation = figures.utilisation(session, now, t.utilisation_days, shelter_ids)
    nobody, unused, no_nights = (None, 0), figures.Occupancy(), figures.Utilisation(0, 0)
    result = []
    for sid, code, status, created_at, capacity, out_of_service, last_headcount_at in session.execute(shelters_q):
        last, present_count = residents.get(sid, nobody)
        occ = occupancy.get(sid, unused)
        util = utilisation.get(sid, no_nights)
        result.append(rules.ShelterFigures(
            code=code, status=status, registered_at=in_service_since.get(sid) or created_at,
            usable=capacity - out_of_service, occupied=occ.occupied, reserved=occ.reserved, last_resident_at=last,
            has_resident=present_count > 0, bed_nights_occupied=util.bed_nights_occupied,
            bed_nights_available=util.bed_nights_available, last_headcount_at=last_headcount_at,
        ))
    return result


def identifications(session: Session, now: datetime) -> tuple[int, int]:
    """Cases identified in [today-365, today] and in [today-730, today-365)."""
    today = now.date()
    year_ago, two_years_ago = today - timedelta(days=365), today - timedelta(days=730)
    recent, previous = session.execute(
        select(
            func.sum(case(((Case.identified_on >= year_ago) & (Case.identified_on <= today), 1), else_=0)),
            func.sum(case(((Case.identified_on >= two_years_ago) & (Case.identified_on < year_ago), 1), else_=0)),
        ).where(Case.identified_on >= two_years_ago)
    ).one()
    return int(recent or 0), int(previous or 0)


def unanswered_placements(session: Session, now: datetime) -> list[UnansweredPlacement]:
    """Live placement requests no shelter has accepted yet, with the time they were made.

    Measured from the request, not the hold: a hold runs out after two hours by
    default, and a victim still without an accepted bed is what the secretariat
    must hear about, whichever shelters were tried meanwhile.
    """
    waiting = (*WAITING, RequestStatus.RESERVED)
    rows = session.execute(
        select(PlacementRequest.id, Shelter.code, PlacementRequest.created_at, PlacementRequest.urgency)
        .outerjoin(Shelter, PlacementRequest.shelter_id == Shelter.id)
        .where(PlacementRequest.status.in_(waiting), PlacementRequest.created_at <= now)
        .order_by(PlacementRequest.id)
    )
    return [UnansweredPlacement(request_id, code, created_at, urgency)
            for request_id, code, created_at, urgency in rows]


def placement_unanswered_decisions(session: Session, now: datetime, thresholds: Thresholds) -> list[rules.Decision]:
    """The `placement_unanswered` alerts due at `now`: every live request past its urgency's limit."""
    return [d for p in unanswered_placements(session, now)
            if (d := rules.placement_unanswered(p.request_id, p.shelter_code, p.requested_at, now, thresholds,
                                                p.urgency))]


# Audit actions that read what a trafficker would want: a victim's case, where a shelter is.
SENSITIVE_READS = ("case.read", "shelter.location_read")


def sensitive_reads_last_hour(session: Session, now: datetime) -> dict[str, int]:
    """Per user, how many cases and shelter addresses they read in the hour up to `now` (one GROUP BY)."""
    rows = session.execute(
        select(AuditEvent.actor, func.count())
        .where(AuditEvent.action.in_(SENSITIVE_READS), AuditEvent.actor_id.is_not(None),
               AuditEvent.outcome == "ok", AuditEvent.at > now - timedelta(hours=1), AuditEvent.at <= now)
        .group_by(AuditEvent.actor)
    )
    return {actor: int(count) for actor, count in rows}


def evaluate_alerts(session: Session, now: datetime, thresholds: Thresholds) -> Summary:
    """Evaluate every rule once as of `now` and make the live alerts match. Idempotent for a given `now`."""
    decisions = rules.shelter_decisions(shelter_figures(session, now, thresholds), now, thresholds)
    kinds = list(rules.SHELTER_KINDS)

    recent, previous = identifications(session, now)
    if (drop := rules.identification_drop(recent, previous, thresholds)) is not None:
        decisions.append(drop)
    kinds.append(rules.IDENTIFICATION_DROP)

    kinds.append(rules.PLACEMENT_UNANSWERED)
    decisions.extend(placement_unanswered_decisions(session, now, thresholds))

    kinds.append(rules.UNUSUAL_ACCESS)
    for username, reads in sorted(sensitive_reads_last_hour(session, now).items()):
        if (d := rules.unusual_access(username, reads, thresholds)):
            decisions.append(d)

    return services.upsert(session, now, decisions, kinds)


def record_census(session: Session, now: datetime) -> int:
    """One census row per shelter for today (UTC); shelters already counted today are left alone.

    Returns how many rows were written.
    """
    day = now.date()
    counted = set(session.scalars(select(CensusDay.shelter_id).where(CensusDay.day == day)))
    occupancy = figures.occupancy(session, now)
    written = 0
    for shelter_id, capacity, out_of_service in session.execute(
        select(Shelter.id, Shelter.capacity, Shelter.out_of_service).order_by(Shelter.id)
    ):
        if shelter_id in counted:
            continue
        occ = occupancy.get(shelter_id, figures.Occupancy())
        session.add(CensusDay(shelter_id=shelter_id, day=day, occupied=occ.occupied, reserved=occ.reserved,
                              capacity=capacity, out_of_service=out_of_service, recorded_at=now))
        written += 1
    session.flush()
    return written


def expire_reservations(session: Session, now: datetime) -> int:
    """Release every hold whose time ran out (released_at=now, reason 'expired'); returns how many."""
    result = session.execute(
        update(Reservation)
        .where(Reservation.released_at.is_(None), Reservation.held_until <= now)
        .values(released_at=now, release_reason="expired")
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return int(result.rowcount or 0)
