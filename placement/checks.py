"""Invariants of placement requests, their timelines and the beds they hold, for `flask check`.

Each function takes the session (and `now` where time matters) and returns a list of
problems, one line each, starting with a stable code; an empty list means it holds.
They only read. `shelters.checks` covers the holds' own shape and the shelters' capacity;
these tie each hold to the request that took it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import AuditEvent
from placement.models import HOLDING, WAITING, PlacementEvent, PlacementRequest, RequestStatus
from shelters.models import Case, Reservation, Stay

# The state machine of placement/models.py: the states each state may move to.
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({RequestStatus.OPEN}),
    **{state: frozenset({RequestStatus.RESERVED, RequestStatus.DECLINED, RequestStatus.CANCELLED})
       for state in WAITING},
    RequestStatus.RESERVED: frozenset({RequestStatus.ACCEPTED, RequestStatus.REJECTED, RequestStatus.EXPIRED,
                                       RequestStatus.DECLINED, RequestStatus.CANCELLED}),
    RequestStatus.ACCEPTED: frozenset({RequestStatus.ADMITTED, RequestStatus.REJECTED, RequestStatus.EXPIRED,
                                       RequestStatus.DECLINED, RequestStatus.CANCELLED}),
}


def status_follows_events(session: Session) -> list[str]:
    """A request's timeline starts at `open`, each event leaves the state the one before reached by a
    legal transition, and the request is in the state its last event reached."""
    timelines: dict[int, list[tuple[int, str | None, str]]] = defaultdict(list)
    for request_id, event_id, from_status, to_status in session.execute(
        select(PlacementEvent.request_id, PlacementEvent.id, PlacementEvent.from_status, PlacementEvent.to_status)
        .order_by(PlacementEvent.request_id, PlacementEvent.id)
    ):
        timelines[request_id].append((event_id, from_status, to_status))
    problems = []
    for request_id, status in session.execute(
            select(PlacementRequest.id, PlacementRequest.status).order_by(PlacementRequest.id)):
        events = timelines.get(request_id, [])
        if not events:
            problems.append(f"request_events: request {request_id} is {status} but has no events")
            continue
        reached: str | None = None
        for event_id, from_status, to_status in events:
            if from_status != reached:
                problems.append(f"request_events: request {request_id} event {event_id} leaves {from_status}, "
                                f"but the request was {reached}")
            elif to_status not in TRANSITIONS.get(from_status, frozenset()):
                problems.append(f"request_events: request {request_id} event {event_id} moves "
                                f"{from_status} -> {to_status}, which is no legal transition")
            reached = to_status
        if status != reached:
            problems.append(f"request_events: request {request_id} is {status} but its last event says {reached}")
    return problems


def holds_belong_to_requests(session: Session) -> list[str]:
    """A request holding a bed (reserved, accepted) has one unreleased hold at its shelter, of the
    case's beds and for its case (a manager reads and admits the case through it); every unreleased hold
    belongs to exactly one such request. A hold that ran out is
    not counted as held (shelters.figures); its request waits for the expiry job, which is no problem.
    No bed is held for a case already housed, except by the request moving it (a transfer)."""
    problems = []
    holders: dict[int, list[int]] = defaultdict(list)
    housed = set(session.scalars(select(Stay.case_id).where(Stay.discharged_at.is_(None))))
    rows = session.execute(
        select(PlacementRequest.id, PlacementRequest.status, PlacementRequest.shelter_id,
               PlacementRequest.reservation_id, Reservation.shelter_id, Reservation.beds, Reservation.released_at,
               Case.children, Case.id, PlacementRequest.transfer_from_stay_id, Reservation.case_id)
        .join(Case, Case.id == PlacementRequest.case_id)
        .outerjoin(Reservation, Reservation.id == PlacementRequest.reservation_id)
        .order_by(PlacementRequest.id)
    )
    for request_id, status, shelter_id, hold_id, hold_shelter_id, beds, released_at, children, case_id, \
            transfer_from_id, hold_case_id in rows:
        if status not in HOLDING:
            continue
        if case_id in housed and transfer_from_id is None:
            problems.append(f"housed_hold: request {request_id} holds a bed for a case already in a shelter")
        if hold_id is None or shelter_id is None:
            problems.append(f"request_hold: request {request_id} is {status} but holds no bed")
            continue
        holders[hold_id].append(request_id)
        if released_at is not None:
            problems.append(f"request_hold: request {request_id} is {status} but its hold {hold_id} was released")
        if hold_shelter_id != shelter_id:
            problems.append(f"request_hold: request {request_id} holds hold {hold_id} at another shelter")
        if beds != 1 + children:
            problems.append(f"request_hold: request {request_id} holds {beds} beds, its case needs {1 + children}")
        if hold_case_id != case_id:
            problems.append(f"request_hold: request {request_id} holds hold {hold_id}, which is not for its case")
    for hold_id, request_ids in sorted(holders.items()):
        if len(request_ids) > 1:
            problems.append(f"orphan_hold: hold {hold_id} is held by requests {', '.join(map(str, request_ids))}")
    for hold_id, held_until in session.execute(
            select(Reservation.id, Reservation.held_until).where(Reservation.released_at.is_(None))
            .order_by(Reservation.id)):
        if hold_id not in holders:
            problems.append(f"orphan_hold: hold {hold_id} (until {held_until.isoformat()}) is unreleased but "
                            "no reserved or accepted request holds it")
    return problems


def admissions_match_stays(session: Session) -> list[str]:
    """An admitted request names the stay it opened, of its case at its shelter, and consumed its hold;
    a transfer's old stay was closed as `transferred`."""
    problems = []
    rows = session.execute(
        select(PlacementRequest.id, PlacementRequest.case_id, PlacementRequest.shelter_id,
               PlacementRequest.stay_id, PlacementRequest.transfer_from_stay_id,
               Reservation.release_reason)
        .outerjoin(Reservation, Reservation.id == PlacementRequest.reservation_id)
        .where(PlacementRequest.status == RequestStatus.ADMITTED).order_by(PlacementRequest.id)
    )
    for request_id, case_id, shelter_id, stay_id, transfer_from_id, release_reason in rows:
        stay = session.get(Stay, stay_id) if stay_id is not None else None
        if stay is None:
            problems.append(f"request_stay: request {request_id} is admitted but names no stay")
            continue
        if (stay.case_id, stay.shelter_id) != (case_id, shelter_id):
            problems.append(f"request_stay: request {request_id}'s stay {stay_id} is of another case or shelter")
        if release_reason != "admitted":
            problems.append(f"request_stay: request {request_id} is admitted but its hold was not consumed "
                            f"by the admission ({release_reason or 'unreleased'})")
        if transfer_from_id is not None:
            old = session.get(Stay, transfer_from_id)
            if old is None or old.discharge_reason != "transferred":
                problems.append(f"request_stay: transfer request {request_id} is admitted but the old stay "
                                f"{transfer_from_id} was not closed as transferred")
    for request_id, stay_id in session.execute(
            select(PlacementRequest.id, PlacementRequest.stay_id)
            .where(PlacementRequest.status != RequestStatus.ADMITTED, PlacementRequest.stay_id.is_not(None))
            .order_by(PlacementRequest.id)):
        problems.append(f"request_stay: request {request_id} is not admitted but names stay {stay_id}")
    return problems


def transitions_are_audited(session: Session) -> list[str]:
    """Each event of a request's timeline has its `placement.<state>` audit event (one transaction)."""
    events = dict(session.execute(
        select(PlacementEvent.request_id, func.count()).group_by(PlacementEvent.request_id)).all())
    audited: dict[int, int] = defaultdict(int)
    for object_id, n in session.execute(
        select(AuditEvent.object_id, func.count())
        .where(AuditEvent.object_type == "placement",
               AuditEvent.action.in_([f"placement.{state}" for state in RequestStatus]))
        .group_by(AuditEvent.object_id)
    ):
        if object_id.isdigit():
            audited[int(object_id)] += n
    return [f"unaudited: request {request_id} has {events.get(request_id, 0)} timeline events "
            f"but {audited.get(request_id, 0)} audit events"
            for request_id in sorted(set(events) | set(audited))
            if events.get(request_id, 0) != audited.get(request_id, 0)]


def placement_problems(session: Session, now: datetime) -> list[str]:
    """Every placement invariant, in a fixed order: an empty list when all hold."""
    del now  # no placement invariant depends on the time (an expired hold is not counted anywhere)
    return [
        *status_follows_events(session),
        *holds_belong_to_requests(session),
        *admissions_match_stays(session),
        *transitions_are_audited(session),
    ]
