"""Who may see and move a placement request, and what of it, record by record.

The requester and the secretariat own a request; the manager of the shelter holding its bed decides on it.
Which shelter holds a case is a location (docs/security.md), so a request's shelter is shown only to who may know
it: the secretariat always; the shelter's own managers; the requesting officer only while the request holds a bed
there (reserved or accepted), never after the victim is admitted, and the address and telephone only once the
shelter has accepted. A manager reads a request only while it holds a bed at their shelter, or once admitted
there while the case still stays there: after a rejection, a cancellation, an expiry or a transfer away it is
gone from them, exactly as if it did not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from errors import NotFound
from placement import services
from placement.models import HOLDING, PlacementEvent, PlacementRequest, RequestStatus, Urgency
from shelters import permissions as shelter_permissions
from shelters.models import Case, Reservation, Shelter, Stay


def can_request(user: User) -> bool:
    return user.role in (Role.POLICE, Role.SECRETARIAT)


def can_transfer(user: User) -> bool:
    """Moving a resident to another shelter is the secretariat's: the request would tell its author where the
    resident is now."""
    return user.role == Role.SECRETARIAT


def is_owner(user: User, request: PlacementRequest) -> bool:
    return user.role == Role.SECRETARIAT or (user.role == Role.POLICE and request.requested_by_id == user.id)


def is_deciding_manager(user: User, request: PlacementRequest) -> bool:
    """The manager of the request's shelter: accepts, rejects, admits (while the request holds a bed there, which
    the services check; a manager reads it only then or once admitted, `can_view`)."""
    return request.shelter_id is not None and user.manages(request.shelter_id)


def is_receiving_manager(user: User, request: PlacementRequest) -> bool:
    """A manager who may read the request: it holds a bed at their shelter, or was admitted there and the case
    still stays there."""
    if request.shelter_id is None or not user.manages(request.shelter_id):
        return False
    if request.status in HOLDING:
        return True
    return request.status == RequestStatus.ADMITTED and request.stay is not None and request.stay.is_open


def can_view(user: User, request: PlacementRequest) -> bool:
    return is_owner(user, request) or is_receiving_manager(user, request)


def shows_shelter(user: User, request: PlacementRequest) -> bool:
    """Whether `user` may learn the shelter the request holds (or held) a bed at, and the stay it opened."""
    if request.shelter_id is None:
        return False
    if user.role == Role.SECRETARIAT:
        return True
    if user.role == Role.POLICE:
        return request.requested_by_id == user.id and request.status in HOLDING
    return user.manages(request.shelter_id)


def shows_event_shelter(user: User, request: PlacementRequest, event: PlacementEvent) -> bool:
    """Whether a timeline entry may name its shelter to `user`: the secretariat sees every one; a manager those of
    their own shelters; the requesting officer only the shelter holding the bed now."""
    if event.shelter_code is None:
        return False
    if user.role == Role.SECRETARIAT:
        return True
    if user.role == Role.SHELTER_MANAGER:
        return any(s.code == event.shelter_code for s in user.managed_shelters)
    return (shows_shelter(user, request) and request.shelter is not None
            and event.shelter_code == request.shelter.code)


def shows_ranking(user: User, request: PlacementRequest) -> bool:
    """The suggestions and exclusions are the owner's: a deciding manager needs the profile, not how every other
    shelter (the case's current one, for a transfer) fared."""
    return is_owner(user, request)


def sees_exact_distances(user: User) -> bool:
    """An officer sees a suggestion's distance term only in bands (placement.engine.distance_band): exact points
    from known region centres would give away a shelter's coordinates."""
    return user.role != Role.POLICE


def can_view_address(user: User, request: PlacementRequest) -> bool:
    """The address and telephone of the request's shelter: the requesting officer once the shelter accepted, while
    it is accepted; the secretariat and the shelter's managers."""
    if request.shelter is None:
        return False
    if user.role == Role.POLICE:
        return request.requested_by_id == user.id and request.status == RequestStatus.ACCEPTED
    return shelter_permissions.can_view_location(user, request.shelter)


def can_run_batch(user: User) -> bool:
    return user.role == Role.SECRETARIAT


@dataclass(frozen=True)
class RequestFilter:
    """What a list of placement requests is narrowed to and ordered by (every field optional)."""

    status: str | None = None
    urgency: str | None = None
    shelter: str | None = None        # a shelter code; only for those who may see every listed request's shelter
    case_code: str | None = None      # part of a case code, any case
    since: datetime | None = None     # created at or after
    until: date | None = None         # created on or before (UTC day)
    sort: str = "newest"              # one of REQUEST_SORTS
    before_id: int | None = None      # the API's cursor: requests older than this one (newest first only)


# A status filter of its own: the requests that wait on the user (`waiting_statuses`).
WAITING = "waiting"

# How a list may be ordered: newest or oldest first, most urgent first, last changed first.
REQUEST_SORTS = ("newest", "oldest", "urgency", "updated")


def _visible_query(user: User, now: datetime, wanted: RequestFilter) -> Select | None:
    query = select(PlacementRequest)
    if user.role == Role.POLICE:
        query = query.where(PlacementRequest.requested_by_id == user.id)
    elif user.role == Role.SHELTER_MANAGER:
        # A hold that ran out is gone from the manager at once, before the expiry job releases it.
        live_hold = exists(select(Reservation.id).where(
            Reservation.id == PlacementRequest.reservation_id, Reservation.released_at.is_(None),
            Reservation.held_until > now))
        still_staying = exists(select(Stay.id).where(Stay.id == PlacementRequest.stay_id,
                                                     Stay.discharged_at.is_(None)))
        query = query.where(
            PlacementRequest.shelter_id.in_([s.id for s in user.managed_shelters]),
            or_(and_(PlacementRequest.status.in_(HOLDING), live_hold),
                and_(PlacementRequest.status == RequestStatus.ADMITTED, still_staying)))
    elif user.role != Role.SECRETARIAT:
        return None
    if wanted.status == WAITING:
        query = query.where(PlacementRequest.status.in_(waiting_statuses(user)))
    elif wanted.status:
        query = query.where(PlacementRequest.status == wanted.status)
    if wanted.urgency:
        query = query.where(PlacementRequest.urgency == wanted.urgency)
    if wanted.shelter and can_filter_by_shelter(user):
        query = query.where(PlacementRequest.shelter_id.in_(select(Shelter.id).where(Shelter.code == wanted.shelter)))
    if wanted.case_code:
        # Case codes are capitals, digits and dashes: anything else typed is dropped, so no LIKE wildcard gets in.
        part = re.sub(r"[^A-Z0-9-]", "", wanted.case_code.upper())
        query = query.where(PlacementRequest.case_id.in_(select(Case.id).where(Case.code.contains(part))))
    if wanted.since:
        query = query.where(PlacementRequest.created_at >= wanted.since)
    if wanted.before_id is not None:
        query = query.where(PlacementRequest.id < wanted.before_id)
    if wanted.until:
        query = query.where(PlacementRequest.created_at < datetime.combine(wanted.until + timedelta(days=1), time(), UTC))
    return query


def _ordered(query: Select, sort: str) -> Select:
    if sort == "oldest":
        return query.order_by(PlacementRequest.id.asc())
    if sort == "urgency":
        rank = case({Urgency.EMERGENCY.value: 0, Urgency.URGENT.value: 1}, value=PlacementRequest.urgency, else_=2)
        return query.order_by(rank, PlacementRequest.id.desc())
    if sort == "updated":
        return query.order_by(PlacementRequest.updated_at.desc(), PlacementRequest.id.desc())
    return query.order_by(PlacementRequest.id.desc())


def visible_requests(session: Session, user: User, now: datetime, status: str | None = None,
                     limit: int = 500, *, wanted: RequestFilter | None = None, offset: int = 0
                     ) -> list[PlacementRequest]:
    """What `user` may see: all (secretariat), their own (police), holding a live bed at or admitted to and still
    staying at their shelters (managers); narrowed and ordered by `wanted` (newest first by default). Pages and
    API list through this one query."""
    wanted = wanted or RequestFilter(status=status)
    query = _visible_query(user, now, wanted)
    if query is None:
        return []
    return list(session.scalars(_ordered(query, wanted.sort).limit(limit).offset(offset)))


def count_visible_requests(session: Session, user: User, now: datetime, wanted: RequestFilter) -> int:
    """How many requests `visible_requests` would list with `wanted`, unpaged."""
    query = _visible_query(user, now, wanted)
    if query is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def can_filter_by_shelter(user: User) -> bool:
    """Listing requests by the shelter they are addressed to says which shelter held a case: the secretariat, and
    managers (whose lists hold their own shelters' requests only)."""
    return user.role in (Role.SECRETARIAT, Role.SHELTER_MANAGER)


def unknown_request(request_id: int) -> NotFound:
    return NotFound(f"no placement request {request_id}", fields={"id": "unknown"})


def load_request(session: Session, user: User, request_id: int, now: datetime) -> PlacementRequest:
    """The request, or NotFound when it does not exist or `user` may not see it. A hold that ran out is released
    first, so a manager whose hold expired is refused at once rather than at the next scheduler run."""
    request = session.get(PlacementRequest, request_id)
    if request is not None:
        services.expire_if_due(session, now, request)
    if request is None or not can_view(user, request):
        raise unknown_request(request_id)
    return request


def waiting_statuses(user: User) -> tuple[str, ...]:
    """What a user waits on, as request states: an officer their live requests; a manager the requests holding
    a bed at their shelters (to accept, then admit); the secretariat every request no shelter accepted yet."""
    if user.role == Role.POLICE:
        return (RequestStatus.OPEN, *HOLDING, RequestStatus.REJECTED, RequestStatus.EXPIRED)
    if user.role == Role.SHELTER_MANAGER:
        return HOLDING
    if user.role == Role.SECRETARIAT:
        return (RequestStatus.OPEN, RequestStatus.RESERVED, RequestStatus.REJECTED, RequestStatus.EXPIRED)
    return ()


def waiting_requests(session: Session, user: User, now: datetime, limit: int = 500) -> list[PlacementRequest]:
    """The requests `user` may see that wait on them (`waiting_statuses`), newest first."""
    return visible_requests(session, user, now, limit=limit, wanted=RequestFilter(status=WAITING))
