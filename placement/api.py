"""/api/v1/placements: requests, reservations, the shelter's decision, admission, batch."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, url_for

import paging
from accounts.models import Role, User
from accounts.permissions import roles_required
from database import utcnow
from errors import NotAllowed
from extensions import db
from placement import permissions, schemas, services
from placement.serialisation import placement_json
from rest import api_blueprint
from shelters import permissions as shelter_permissions

blp = api_blueprint("placement_api", __name__, "Placement requests, reservations and batch assignment")


def _settings() -> services.Settings:
    return services.Settings.from_config(current_app.config)


def _user() -> User:
    return g.api_user


# A request's stored ranking: already JSON, shaped as `schemas.SuggestionOut` and `schemas.ExclusionOut` say.
_RANKING = ("suggestions", "excluded")
_PLACEMENT_OUT = schemas.PlacementOut()


def placement_response(body: dict[str, Any], status: int = 200) -> Response:
    """`body` (from `placement_json`) answered as `schemas.PlacementOut` documents it.

    The suggestions and exclusions are the JSON stored on the request: lists read back from it, or, for
    a new request, the very text stored (`services.ShownRanking`), sent as it is. At 10,000 shelters,
    having marshmallow walk them again cost more than ranking them, so only the rest of the request
    goes through the schema; the answer is the text flask-smorest's encoder would give (sorted keys;
    tests/placement/test_api.py holds the two to the same bytes). The OpenAPI document still
    describes the whole body.
    """
    ranking = {key: body[key] for key in _RANKING if key in body}
    data = _PLACEMENT_OUT.dump({key: value for key, value in body.items() if key not in _RANKING})
    if not any(isinstance(value, str) for value in ranking.values()):
        response = jsonify(data | ranking)
    else:  # the members in sorted order, as the encoder writes them, the stored text spliced in
        def encode(value: Any) -> str:
            return current_app.json.dumps(value, separators=(",", ":"))

        members = data | ranking
        text = ",".join(f"{encode(key)}:{value if key in ranking and isinstance(value, str) else encode(value)}"
                        for key, value in sorted(members.items()))
        response = current_app.response_class(f"{{{text}}}\n", mimetype=current_app.json.mimetype)
    response.status_code = status
    return response


@blp.route("/placements", methods=["POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
@blp.arguments(schemas.PlacementIn)
@blp.response(201, schemas.PlacementOut)
def create(data: dict[str, Any]) -> Response:
    """Ask a bed for a case: returns the ranked suggestions and every exclusion with its reasons."""
    user, now = _user(), utcnow()
    if data["transfer"] and not permissions.can_transfer(user):
        raise NotAllowed("only the secretariat moves a resident to another shelter", fields={"transfer": "not allowed"})
    case, _where = shelter_permissions.load_case(db.session, user, data["case_code"], now)
    request, shown = services.open_request(db.session, user, now, case, _settings(), urgency=data["urgency"],
                                           region=data.get("region"), exclude=data["exclude"],
                                           transfer=data["transfer"])
    body = placement_json(request, user, shown)
    db.session.commit()
    response = placement_response(body, 201)
    response.headers["Location"] = url_for("placement_api.get", request_id=body["id"])
    return response


@blp.route("/placements")
@roles_required(Role.POLICE, Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.PlacementQuery, location="query")
@blp.response(200, schemas.PlacementList)
@paging.paged
def list_requests(query: dict[str, Any]) -> Any:
    """Requests the caller may see, newest first: all (secretariat), their own (police), holding a bed at or
    admitted to their shelters (managers); each request's shelter only where the caller may know it."""
    user = _user()
    if "shelter" in query and not permissions.can_filter_by_shelter(user):
        raise NotAllowed("police may not list requests by shelter", fields={"shelter": ["not allowed"]})
    (before,) = paging.decode_cursor(query["cursor"], (int,)) or (None,)
    wanted = permissions.RequestFilter(status=query.get("status"), urgency=query.get("urgency"),
                                       shelter=query.get("shelter"), since=query.get("since"), before_id=before)
    found = permissions.visible_requests(db.session, user, utcnow(), limit=query["limit"] + 1, wanted=wanted)
    found, cursor = paging.page_of(found, query["limit"], lambda r: (r.id,))
    rows = [{"id": r.id, "case_code": r.case.code, "status": r.status, "urgency": r.urgency,
             "shelter": r.shelter.code if permissions.shows_shelter(user, r) else None, "created_at": r.created_at,
             "updated_at": r.updated_at} for r in found]
    return {"placements": rows, "next_cursor": cursor}, 200, paging.link_header(cursor)


@blp.route("/placements/<int:request_id>")
@roles_required(Role.POLICE, Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.response(200, schemas.PlacementOut)
def get(request_id: int) -> Response:
    user = _user()
    request = permissions.load_request(db.session, user, request_id, utcnow())
    body = placement_json(request, user)
    db.session.commit()
    return placement_response(body)


def _act(request_id: int, owner: bool, action) -> Response:  # noqa: ANN001
    """Load, check who may act (owner: requester or secretariat; else the deciding manager), act, commit."""
    user = _user()
    request = permissions.load_request(db.session, user, request_id, utcnow())
    allowed = permissions.is_owner(user, request) if owner else permissions.is_deciding_manager(user, request)
    if not allowed:
        raise NotAllowed("only the requester or the secretariat may do this" if owner
                         else "only the manager of the reserved shelter may do this")
    action(user, request)
    body = placement_json(request, user)
    db.session.commit()
    return placement_response(body)


@blp.route("/placements/<int:request_id>/reserve", methods=["POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
@blp.arguments(schemas.ReserveIn)
@blp.response(200, schemas.PlacementOut)
def reserve(data: dict[str, Any], request_id: int) -> Response:
    """Hold a bed at a shelter; 409 when none is free any more."""
    return _act(request_id, True, lambda user, req: services.reserve(
        db.session, user, utcnow(), req, data["shelter"], _settings()))


@blp.route("/placements/<int:request_id>/accept", methods=["POST"])
@roles_required(Role.SHELTER_MANAGER)
@blp.response(200, schemas.PlacementOut)
def accept(request_id: int) -> Response:
    return _act(request_id, False, lambda user, req: services.accept(db.session, user, utcnow(), req, _settings()))


@blp.route("/placements/<int:request_id>/reject", methods=["POST"])
@roles_required(Role.SHELTER_MANAGER)
@blp.arguments(schemas.RejectIn)
@blp.response(200, schemas.PlacementOut)
def reject(data: dict[str, Any], request_id: int) -> Response:
    """The shelter refuses, with a `RejectReason` code and an optional note; the bed is freed."""
    return _act(request_id, False, lambda user, req: services.reject(db.session, user, utcnow(), req,
                                                                     data["reason"], data.get("note")))


@blp.route("/placements/<int:request_id>/admit", methods=["POST"])
@roles_required(Role.SHELTER_MANAGER)
@blp.response(200, schemas.PlacementOut)
def admit(request_id: int) -> Response:
    """The victim arrived: opens the stay."""
    return _act(request_id, False, lambda user, req: services.admit(db.session, user, utcnow(), req))


@blp.route("/placements/<int:request_id>/decline", methods=["POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
@blp.arguments(schemas.DeclineIn)
@blp.response(200, schemas.PlacementOut)
def decline(data: dict[str, Any], request_id: int) -> Response:
    """The victim declined shelter, and why."""
    return _act(request_id, True, lambda user, req: services.decline(db.session, user, utcnow(), req,
                                                                    data["reason"], data.get("note")))


@blp.route("/placements/<int:request_id>/cancel", methods=["POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
@blp.arguments(schemas.CancelIn)
@blp.response(200, schemas.PlacementOut)
def cancel(data: dict[str, Any], request_id: int) -> Response:
    return _act(request_id, True, lambda user, req: services.cancel(db.session, user, utcnow(), req,
                                                                   data.get("note")))


@blp.route("/placements/batch", methods=["POST"])
@roles_required(Role.SECRETARIAT)
@blp.response(200, schemas.BatchOut)
def run_batch() -> dict[str, Any]:
    """Assign every waiting request optimally and reserve the beds."""
    outcome = services.run_batch(db.session, _user(), utcnow(), _settings())
    db.session.commit()
    r = outcome.result
    return {"waiting": len(outcome.reserved) + len(outcome.unplaced), "placed": len(outcome.reserved),
            "urgent_placed": r.urgent_placed, "score": r.score, "optimal": r.optimal, "gap": r.gap,
            "method": r.method, "seconds": r.seconds,
            "assignment": {str(k): v for k, v in outcome.reserved.items()}, "unplaced": outcome.unplaced}
