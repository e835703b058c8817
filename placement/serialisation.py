"""A placement request as a given user may read it: the one serialisation the pages and the API share.

`placement.views` and `placement.api` both show a request through `placement_json`, so what a role sees of it
(the shelter, the address, the ranking, the profile) is decided once, here, through `placement.permissions`;
showing a location or a profile is audited.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import current_app

from accounts.models import Role, User
from database import utcnow
from extensions import db
from placement import engine, permissions, services
from placement.models import PlacementEvent, PlacementRequest
from shelters import services as shelter_services


def _settings() -> services.Settings:
    return services.Settings.from_config(current_app.config)


def event_json(event: PlacementEvent, user: User, request: PlacementRequest) -> dict[str, Any]:
    """A timeline entry as `user` may read it: a shelter, and the manager who acted for it, only where `user` may
    know that shelter (placement.permissions.shows_event_shelter)."""
    shelter = event.shelter_code if permissions.shows_event_shelter(user, request, event) else None
    actor = event.actor
    hidden_actor = (actor is not None and actor.role == Role.SHELTER_MANAGER and actor.id != user.id
                    and shelter is None and user.role != Role.SECRETARIAT)
    return {"at": event.at, "by": None if actor is None or hidden_actor else actor.username,
            "by_role": actor.role if actor is not None else None, "from_status": event.from_status,
            "to_status": event.to_status, "shelter": shelter, "reason": event.reason, "note": event.note}


def placement_json(request: PlacementRequest, user: User, shown: services.ShownRanking | None = None
                   ) -> dict[str, Any]:
    """A request as `user` may see it (placement.permissions says what of it); showing a location or a profile
    is audited. `shown`: a new request's ranking as `services.open_request` stored it (its text, rather than
    reading it back)."""
    now = utcnow()
    with_shelter = permissions.shows_shelter(user, request)
    data: dict[str, Any] = {
        "id": request.id, "case_code": request.case.code, "status": request.status, "urgency": request.urgency,
        "region": request.region, "shelter": request.shelter.code if with_shelter else None,
        "expires_at": request.reservation.held_until if request.reservation and request.status in (
            "reserved", "accepted") else None,
        "stay_id": request.stay_id if with_shelter else None, "transfer": request.transfer_from_stay_id is not None,
        "reason": request.reason, "note": request.note, "suggestions": [], "excluded": [],
        "created_at": request.created_at, "updated_at": request.updated_at,
        "timeline": [event_json(e, user, request) for e in request.events],
    }
    if permissions.shows_ranking(user, request):
        if permissions.sees_exact_distances(user):
            data["suggestions"] = shown.suggestions if shown else request.suggestions
        else:
            weight = _settings().weights.distance
            data["suggestions"] = (shown.ranking.banded_suggestions_text(weight) if shown
                                   else engine.banded_suggestions(request.suggestions, weight))
        data["excluded"] = shown.excluded if shown else request.excluded
        if shown is not None:
            if not shown.suggested:
                data["why_empty"] = shown.why_empty
        elif not request.suggestions:
            data["why_empty"] = dict(Counter(code for e in request.excluded for code in set(e.get("codes", []))))
    if permissions.can_view_address(user, request):
        data["address"] = request.shelter.address
        data["telephone"] = request.shelter.telephone
        shelter_services.record_location_read(db.session, user, now, request.shelter, placement=request.id)
    if permissions.is_receiving_manager(user, request) or user.role == Role.SECRETARIAT:
        case = request.case
        data["profile"] = {"sex": case.sex, "age": case.age_on(now.date()), "children": case.children,
                           "languages": case.languages, "needs": case.needs, "risk": case.risk,
                           "nationality": case.nationality}
        shelter_services.record_case_read(db.session, user, now, case)
    return data
