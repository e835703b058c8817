"""/api/v1 for shelters, cases and stays: the same services as the pages, as JSON."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify, url_for

import paging
from accounts.models import Role, User
from accounts.permissions import ALL_ROLES, roles_required
from database import utcnow
from errors import NotAllowed
from extensions import db
from rest import api_blueprint, created, error_response
from shelters import permissions, schemas, services
from shelters.models import LOCATION_FIELDS, Case, Shelter, Stay

blp = api_blueprint("shelters_api", __name__, "Shelters, their residents, cases and stays")


def _user() -> User:
    return g.api_user


def resident_json(stay: Stay) -> dict[str, Any]:
    return {"stay_id": stay.id, "case_code": stay.case.code, "admitted_at": stay.admitted_at, "beds": stay.beds}


def shelter_json(view: services.ShelterView, *, location: bool = False, residents: list[Stay] | None = None
                 ) -> dict:
    """A shelter as the API shows it: its location fields only when `location` (the reader may know it)."""
    s = view.shelter
    data: dict[str, Any] = {
        "code": s.code, "name": s.name, "kind": s.kind, "region": s.region, "capacity": s.capacity,
        "out_of_service": s.out_of_service, "sexes": s.sexes, "ages": s.ages,
        "children_capacity": s.children_capacity, "services": s.services, "languages": s.languages,
        "security": s.security, "status": s.status, "operator": s.operator.code if s.operator else None,
        "opened_on": s.opened_on, "version": s.version, "occupied": view.occupancy.occupied,
        "reserved": view.occupancy.reserved, "available": view.available,
        "residents_count": view.occupancy.residents, "utilisation_30d": view.utilisation_30d,
        "last_headcount_at": s.last_headcount_at,
    }
    if location:
        data.update({field: getattr(s, field) for field in LOCATION_FIELDS})
    if residents is not None:
        data["residents"] = [resident_json(stay) for stay in residents]
    return data


def _detail(user: User, shelter: Shelter, **extra: Any) -> dict[str, Any]:
    """One shelter as `user` may see it; reading its location or residents is audited."""
    now = utcnow()
    view = services.shelter_views(db.session, now, [shelter])[0]
    show_location = permissions.can_view_location(user, shelter)
    residents = services.residents(db.session, shelter) if permissions.can_view_residents(user, shelter) else None
    if show_location:
        services.record_location_read(db.session, user, now, shelter)
    if residents is not None:
        services.record_residents_read(db.session, user, now, shelter, residents)
    data = shelter_json(view, location=show_location, residents=residents)
    data.update(extra)
    return data


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def shelter_line_json(line: services.ShelterLine) -> dict[str, Any]:
    """A listed shelter exactly as `ShelterOut` dumps `shelter_json` of it (tests/shelters/test_api.py holds
    them equal), built from plain columns: the list answers with these without marshmallow's per-field
    dump, which cost more than the queries. No list carries a location: that is read shelter by shelter."""
    r, occ = line.row, line.occupancy
    return {
        "code": r.code, "name": r.name, "kind": r.kind, "region": r.region, "capacity": r.capacity,
        "out_of_service": r.out_of_service, "sexes": line.sexes, "ages": r.ages,
        "children_capacity": r.children_capacity, "services": line.services, "languages": line.languages,
        "security": r.security, "status": r.status, "operator": r.operator, "opened_on": r.opened_on.isoformat(),
        "version": r.version, "occupied": occ.occupied, "reserved": occ.reserved, "available": line.available,
        "residents_count": occ.residents, "utilisation_30d": line.utilisation_30d,
        "last_headcount_at": _iso(r.last_headcount_at),
    }


@blp.route("/shelters")
@roles_required(*ALL_ROLES)
@blp.arguments(schemas.ShelterQuery, location="query")
@blp.response(200, schemas.ShelterList)
@paging.paged
def list_shelters(query: dict[str, Any]) -> Response:
    """Every shelter with capacity and free beds; partners get totals by region group as of the last midnight UTC."""
    # The body is built here and returned ready: flask-smorest passes a Response through, and ShelterList
    # still documents it in the OpenAPI document (schemathesis checks answers against it).
    if not permissions.can_list_shelters(_user()):
        beds = services.partner_beds(db.session, utcnow())
        return jsonify({"shelters": [], "regions": [asdict(r) for r in beds.regions], "as_of": _iso(beds.as_of),
                        "next_cursor": None})
    (after,) = paging.decode_cursor(query["cursor"], (str,)) or (None,)
    lines = services.list_shelter_lines(db.session, utcnow(), after=after, region=query.get("region"),
                                        status=query.get("status"))
    if "has_free_beds" in query:
        lines = [line for line in lines if (line.available > 0) == query["has_free_beds"]]
    lines, cursor = paging.page_of(lines, query["limit"], lambda line: (line.row.code,))
    return paging.page_response("shelters", [shelter_line_json(line) for line in lines], cursor)


@blp.route("/shelters", methods=["POST"])
@roles_required(Role.ADMIN, Role.SECRETARIAT)
@blp.arguments(schemas.ShelterCreate)
@blp.response(201, schemas.ShelterOut)
def create_shelter(data: dict[str, Any]) -> dict[str, Any]:
    """Register a shelter (admin, secretariat). An administrator may give its location but never reads it."""
    code = data.pop("code")
    _refuse_fields(set(data) - permissions.creatable_fields(_user()))
    shelter = services.create_shelter(db.session, _user(), utcnow(), code, data)
    body = _detail(_user(), shelter)
    db.session.commit()
    return created(body, url_for("shelters_api.get_shelter", code=code))


@blp.route("/shelters/<code>")
@roles_required(*ALL_ROLES)
@blp.response(200, schemas.ShelterOut)
def get_shelter(code: str) -> dict[str, Any]:
    """One shelter; its address and residents for those allowed."""
    user = _user()
    if not permissions.can_list_shelters(user):
        raise NotAllowed("partners see aggregates only")
    body = _detail(user, services.get_shelter(db.session, code))
    db.session.commit()
    return body


def _refuse_fields(refused: set[str]) -> None:
    if refused:
        names = sorted(refused)
        raise NotAllowed(f"you may not change {', '.join(names)}", fields={f: "not allowed" for f in names})


@blp.route("/shelters/<code>", methods=["PATCH"])
@roles_required(Role.ADMIN, Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.ShelterPatch)
@blp.response(200, schemas.ShelterOut)
def patch_shelter(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Change a shelter. Managers change their own shelters' capacity fields only. A stale version is 409."""
    user = _user()
    shelter = services.get_shelter(db.session, code)
    allowed = permissions.editable_fields(user, shelter)
    if not allowed:
        raise services.unknown_shelter(code)  # only a manager of another shelter gets this far
    version = data.pop("version")
    accept_overflow = data.pop("accept_overflow", False)
    _refuse_fields(set(data) - allowed)
    result = services.update_shelter(db.session, user, utcnow(), shelter, version, data,
                                     accept_overflow=accept_overflow)
    body = _detail(user, result.shelter, overflow=result.overflow)
    db.session.commit()
    return body


@blp.route("/shelters/<code>/residents")
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.ResidentQuery, location="query")
@blp.response(200, schemas.ResidentList)
@paging.paged
def list_residents(query: dict[str, Any], code: str) -> Any:
    """The open stays of a shelter, oldest admission first (secretariat, its managers); 404 for anyone else.
    Each page's case codes are audited as shown."""
    user = _user()
    shelter = permissions.load_residents_shelter(db.session, user, code)
    after = paging.decode_cursor(query["cursor"], (str, int))
    stays = services.residents(db.session, shelter, limit=query["limit"] + 1,
                               after=None if after is None else (paging.cursor_time(after[0]), after[1]))
    stays, cursor = paging.page_of(stays, query["limit"], lambda s: (_utc(s.admitted_at).isoformat(), s.id))
    services.record_residents_read(db.session, user, utcnow(), shelter, stays)
    body = {"shelter": shelter.code, "residents": [resident_json(s) for s in stays], "next_cursor": cursor}
    db.session.commit()
    return body, 200, paging.link_header(cursor)


@blp.route("/shelters/<code>/headcount", methods=["POST"])
@roles_required(Role.SHELTER_MANAGER)
@blp.arguments(schemas.HeadcountIn)
@blp.response(200, schemas.HeadcountOut)
@blp.alt_response(409, description="the count disagrees with the records; both figures are given")
def headcount(data: dict[str, Any], code: str) -> Any:
    """Confirm how many beds are taken. A count that disagrees is recorded and answered 409."""
    user = _user()
    shelter = services.get_shelter(db.session, code)
    if not permissions.can_confirm_headcount(user, shelter):
        raise services.unknown_shelter(code)
    count = services.confirm_headcount(db.session, user, utcnow(), shelter, data["occupied"])
    db.session.commit()
    if not count.matches:
        return error_response(
            409, "headcount_mismatch",
            f"you counted {count.reported} beds taken, the records say {count.recorded}; "
            "admit or discharge to correct the records, then confirm again",
            {"occupied": "disagrees with the records"}, reported=count.reported, recorded=count.recorded,
        )
    return {"shelter": shelter.code, "occupied": count.reported, "recorded": count.recorded, "confirmed_at": count.at}


@blp.route("/shelters/<code>/stays", methods=["POST"])
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.AdmitIn)
@blp.response(201, schemas.StayOut)
def admit(data: dict[str, Any], code: str) -> Any:
    """Admit a case directly. The secretariat admits any case; a shelter's manager only a case whose placement
    request holds a bed there (anything else is 404, as for a code that does not exist)."""
    user, now = _user(), utcnow()
    shelter = services.get_shelter(db.session, code)
    if not permissions.can_admit(user, shelter):
        raise services.unknown_shelter(code)
    case, hold = permissions.load_case_to_admit(db.session, user, shelter, data["case_code"], now)
    stay = services.admit_case(db.session, user, now, shelter, case, data.get("admitted_at"), reservation=hold)
    body = stay_json(stay)  # before the commit expires the stay: reading it after would reload three rows
    db.session.commit()
    # No stay has a URL of its own: its case, which names the stay and shelter to those who may know them.
    return created(body, url_for("shelters_api.get_case", code=body["case_code"]))


def stay_json(stay: Stay) -> dict[str, Any]:
    # In UTC, as stored and as read back: the handlers answer before the commit, when the times may still
    # be the ones the caller sent, with the caller's offset.
    return {"stay_id": stay.id, "case_code": stay.case.code, "shelter": stay.shelter.code, "beds": stay.beds,
            "admitted_at": _utc(stay.admitted_at), "discharged_at": _utc(stay.discharged_at),
            "discharge_reason": stay.discharge_reason}


@blp.route("/stays/<int:stay_id>/discharge", methods=["POST"])
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.DischargeIn)
@blp.response(200, schemas.StayOut)
def discharge(data: dict[str, Any], stay_id: int) -> dict[str, Any]:
    """Discharge a resident with a reason ('other' needs a note)."""
    user = _user()
    stay = permissions.load_stay(db.session, user, stay_id)
    services.discharge_stay(db.session, user, utcnow(), stay, data["reason"], data.get("note"),
                            data.get("discharged_at"))
    body = stay_json(stay)  # before the commit, as in `admit`
    db.session.commit()
    return body


@blp.route("/cases", methods=["POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
@blp.arguments(schemas.CaseIn)
@blp.response(201, schemas.CaseCreated)
def create_case(data: dict[str, Any]) -> Any:
    """Record a newly identified victim by a pseudonymous profile; returns the case code."""
    case = services.create_case(db.session, _user(), utcnow(), data)
    db.session.commit()
    return created({"case_code": case.code}, url_for("shelters_api.get_case", code=case.code))


@blp.route("/cases")
@roles_required(Role.SECRETARIAT, Role.POLICE)
@blp.arguments(schemas.CaseQuery, location="query")
@blp.response(200, schemas.CaseList)
@paging.paged
def list_cases(query: dict[str, Any]) -> Any:
    """Cases by code: every case (secretariat), the cases the officer identified (police). Each case listed is
    audited as read (and so counts towards `unusual_access`)."""
    user, now = _user(), utcnow()
    (after,) = paging.decode_cursor(query["cursor"], (str,)) or (None,)
    cases = permissions.listed_cases(db.session, user, after=after, status=query.get("status"),
                                     limit=query["limit"] + 1)
    cases, cursor = paging.page_of(cases, query["limit"], lambda c: (c.code,))
    rows = [{"case_code": c.code, "status": c.status, "identified_on": c.identified_on, "region": c.region,
             "anonymised": c.anonymised} for c in cases]
    for case in cases:
        services.record_case_read(db.session, user, now, case)
    db.session.commit()
    return {"cases": rows, "next_cursor": cursor}, 200, paging.link_header(cursor)


def case_json(case: Case, stay: Stay | None) -> dict[str, Any]:
    """A case's profile; `stay` is its open stay where the reader may know it (else None: an officer reads
    "placed" with no shelter)."""
    today = utcnow().date()
    return {
        "case_code": case.code, "sex": case.sex, "birth_year": case.birth_year, "age": case.age_on(today),
        "nationality": case.nationality, "languages": case.languages, "exploitation": case.exploitation,
        "needs": case.needs, "children": case.children, "risk": case.risk,
        "trafficker_regions": case.trafficker_regions, "region": case.region, "identified_on": case.identified_on,
        "status": case.status, "resolution": case.resolution,
        "shelter": stay.shelter.code if stay else None, "stay_id": stay.id if stay else None,
        "anonymised": case.anonymised,
    }


@blp.route("/cases/<code>")
@roles_required(Role.SECRETARIAT, Role.POLICE, Role.SHELTER_MANAGER)
@blp.response(200, schemas.CaseOut)
def get_case(code: str) -> dict[str, Any]:
    """A case's profile: the secretariat, the officer who identified it (without its shelter), the manager of the
    shelter it stays in or that holds a bed for it. Audited."""
    user, now = _user(), utcnow()
    case, where = permissions.load_case(db.session, user, code, now)
    services.record_case_read(db.session, user, now, case)
    stay = where.stay if where.stay is not None and permissions.can_see_stay(user, where.stay) else None
    answer = case_json(case, stay)
    if permissions.can_view_identifying_details(user, case):
        answer["identifying_details"] = case.identifying_details
        services.record_identifying_read(db.session, user, now, case)
    db.session.commit()
    return answer
