"""Who may see and move a placement request, record by record.

The requester and the secretariat own a request; the manager of the shelter
it holds a bed at decides on it. An officer sees the shelter's address only
while the shelter has accepted their request, and never after it closes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from errors import NotFound
from placement.models import PlacementRequest, RequestStatus
from shelters import permissions as shelter_permissions


def can_request(user: User) -> bool:
    return user.role in (Role.POLICE, Role.SECRETARIAT)


def is_owner(user: User, request: PlacementRequest) -> bool:
    return user.role == Role.SECRETARIAT or (user.role == Role.POLICE and request.requested_by_id == user.id)


def is_deciding_manager(user: User, request: PlacementRequest) -> bool:
    return request.shelter_id is not None and user.manages(request.shelter_id)


def can_view(user: User, request: PlacementRequest) -> bool:
    return is_owner(user, request) or is_deciding_manager(user, request)


def can_view_address(user: User, request: PlacementRequest) -> bool:
    if request.shelter is None:
        return False
    if user.role == Role.POLICE:
        return request.requested_by_id == user.id and request.status == RequestStatus.ACCEPTED
    return shelter_permissions.can_view_address(user, request.shelter)


def can_run_batch(user: User) -> bool:
    return user.role == Role.SECRETARIAT


def visible_requests(session: Session, user: User, status: str | None = None, limit: int = 500
                     ) -> list[PlacementRequest]:
    """Newest first, what `user` may see: all (secretariat), their own (police), addressed to their shelters
    (managers). Pages and API list through this one query."""
    query = select(PlacementRequest).order_by(PlacementRequest.id.desc()).limit(limit)
    if user.role == Role.POLICE:
        query = query.where(PlacementRequest.requested_by_id == user.id)
    elif user.role == Role.SHELTER_MANAGER:
        query = query.where(PlacementRequest.shelter_id.in_([s.id for s in user.managed_shelters]))
    elif user.role != Role.SECRETARIAT:
        return []
    if status:
        query = query.where(PlacementRequest.status == status)
    return list(session.scalars(query))


def load_request(session: Session, user: User, request_id: int) -> PlacementRequest:
    """The request, or NotFound when it does not exist or `user` may not see it."""
    request = session.get(PlacementRequest, request_id)
    if request is None or not can_view(user, request):
        raise NotFound(f"no placement request {request_id}", fields={"id": "unknown"})
    return request
