"""The OpenAPI document at /api/v1/openapi.json, finished so that it describes exactly what the server sends.

flask-smorest generates the paths and schemas from the blueprints; `finish` then makes the document an
integrator's generator and validator can trust (tests/test_api_document.py holds it to that):

- one shared error component, `Error` (`{"error": ErrorDetail}`), on every status an operation can return, each
  operation naming the codes and extra figures (`recorded`, `current_version`, `needed`, ...) its refusals carry;
- an `operationId` that reads like a method name on every operation (`OPERATION_IDS`, else the view's name);
- outputs list the fields always present as `required` (`rest.Output`: every field but its `OPTIONAL`);
- one shared enum component per concept (`ENUMS`): an enum anywhere in the document with the same values
  becomes a reference to it;
- a description (the schema's docstring) and an example on every schema, and the headers of each answer
  (`Location`, `Link`, `RateLimit-*`, `Retry-After`, `WWW-Authenticate`);
- the bearer scheme says how to get a token, and `servers` names this instance.
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

from flask import Flask

from accounts.models import OrganisationKind, Role
from accounts.permissions import ALL_ROLES
from alerts.models import AlertStatus, Severity, SubjectType
from alerts.rules import ALERT_KINDS
from placement.models import DECLINE_REASONS, REJECT_REASONS, RequestStatus, Urgency
from shelters.models import (
    EXPLOITATION_FORMS,
    SERVICES,
    Ages,
    CaseStatus,
    DischargeReason,
    Risk,
    Security,
    Sex,
    ShelterStatus,
)

# One component per concept; the values as the models define them.
ENUMS: dict[str, tuple[tuple[str, ...], str]] = {
    "Sex": (tuple(Sex), "a victim's sex, or the sexes a shelter takes"),
    "Ages": (tuple(Ages), "the ages a shelter takes"),
    "Security": (tuple(Security), "a shelter's security level"),
    "ShelterStatus": (tuple(ShelterStatus), "whether a shelter takes admissions"),
    "ShelterKind": (("state", "ngo", "interim"), "who runs a shelter"),
    "Service": (tuple(SERVICES), "a service a shelter offers or a victim needs"),
    "Risk": (tuple(Risk), "the risk a victim faces from the traffickers"),
    "Exploitation": (tuple(EXPLOITATION_FORMS), "a form of exploitation"),
    "CaseStatus": (tuple(CaseStatus), "where a case stands"),
    "DischargeReason": (tuple(DischargeReason), "why a stay ended (`other` needs a `note`)"),
    "DeclineReason": (tuple(DECLINE_REASONS), "why a victim declined shelter (`other` needs a `note`)"),
    "RejectReason": (tuple(REJECT_REASONS), "why a shelter rejected a request (`other` needs a `note`)"),
    "Urgency": (tuple(Urgency), "how soon a bed is needed"),
    "PlacementStatus": (tuple(RequestStatus), "where a placement request stands"),
    "AlertKind": (ALERT_KINDS, "what an alert is about"),
    "AlertSeverity": (tuple(Severity), "how serious an alert is"),
    "AlertStatus": (tuple(AlertStatus), "where an alert's review stands"),
    "AlertSubjectType": (tuple(SubjectType), "what kind of thing an alert concerns"),
    "Role": (tuple(Role), "a user's role"),
    "OrganisationKind": (tuple(OrganisationKind), "what kind of organisation"),
}

# Operation ids where the view's own name would not read as a method name, or would repeat another's.
OPERATION_IDS = {
    "placement_api.create": "create_placement",
    "placement_api.list_requests": "list_placements",
    "placement_api.get": "get_placement",
    "placement_api.reserve": "reserve_placement",
    "placement_api.accept": "accept_placement",
    "placement_api.reject": "reject_placement",
    "placement_api.admit": "admit_placement",
    "placement_api.decline": "decline_placement",
    "placement_api.cancel": "cancel_placement",
    "placement_api.run_batch": "assign_placements_in_batch",
    "shelters_api.admit": "admit_to_shelter",
    "shelters_api.discharge": "discharge_stay",
    "shelters_api.headcount": "confirm_headcount",
    "alerts_api.acknowledge": "acknowledge_alert",
    "alerts_api.resolve": "resolve_alert",
    "alerts_api.add_comment": "comment_alert",
    "alerts_api.utilisation": "get_utilisation",
    "accounts_api.me": "get_me",
    "shelters_api.list_cases": "list_cases",
}

# The refusals beyond the common ones that each operation may answer, by status: code -> extra figures.
REFUSALS: dict[str, dict[int, dict[str, tuple[str, ...]]]] = {
    "shelters_api.create_shelter": {409: {"duplicate": ()}},
    "shelters_api.patch_shelter": {409: {"stale_version": ("current_version",),
                                         "capacity_below_occupancy": ("occupied", "usable", "overflow")}},
    "shelters_api.headcount": {409: {"headcount_mismatch": ("recorded", "reported")}},
    "shelters_api.admit": {409: {"shelter_full": ("usable", "occupied", "reserved", "needed"),
                                 "shelter_not_open": (), "conflict": ()}},
    "shelters_api.discharge": {409: {"already_done": (), "conflict": ()}},
    "placement_api.create": {409: {"conflict": ()}},
    "placement_api.reserve": {409: {"shelter_full": ("usable", "occupied", "reserved", "needed"),
                                    "not_eligible": ("reasons",), "shelter_not_open": (), "conflict": ()}},
    "placement_api.accept": {409: {"conflict": ()}},
    "placement_api.reject": {409: {"conflict": ()}},
    "placement_api.admit": {409: {"shelter_full": ("usable", "occupied", "reserved", "needed"),
                                  "conflict": ()}},
    "placement_api.decline": {409: {"conflict": ()}},
    "placement_api.cancel": {409: {"conflict": ()}},
    "alerts_api.acknowledge": {409: {"conflict": ()}},
    "alerts_api.resolve": {409: {"conflict": ()}},
    "accounts_api.create_organisation": {409: {"duplicate": ()}},
    "accounts_api.create_user": {409: {"duplicate": ()}},
}

# Views open to every role that refuse nobody by role either.
NEVER_FORBIDDEN = frozenset({"accounts_api.me", "shelters_api.list_shelters"})

FIGURES = {
    "recorded": ({"type": "integer"}, "headcount_mismatch: the beds taken according to the records"),
    "reported": ({"type": "integer"}, "headcount_mismatch: the beds the manager counted"),
    "current_version": ({"type": "integer"}, "stale_version: the version to reload"),
    "occupied": ({"type": "integer"}, "beds occupied now"),
    "reserved": ({"type": "integer"}, "beds held for placements now"),
    "usable": ({"type": "integer"}, "beds in service"),
    "overflow": ({"type": "integer"}, "capacity_below_occupancy: beds taken beyond the usable ones"),
    "needed": ({"type": "integer"}, "shelter_full: beds the victim needs (1 + accompanying children)"),
    "reasons": ({"type": "array", "items": {"type": "string"}}, "not_eligible: why the shelter does not fit"),
    "roles": ({"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
              "role_required: the roles that may do this"),
}

COMMON_CODES = {
    400: "`bad_request` (malformed JSON, a NUL byte, JSON nested too deep, a bad `Idempotency-Key` or `cursor`), "
         "`unknown_parameter` (a query parameter the operation does not take, named in `fields`)",
    401: "`unauthorized`: no token, or one unknown, expired or revoked",
    403: "`role_required` (with `roles`), `forbidden`: the caller may not do this",
    404: "`not_found`: unknown, or not the caller's to know",
    409: "`idempotency_in_progress` (POST: the same `Idempotency-Key` is being handled; retry after a second)",
    413: "`too_large`: the body is over 1 MiB",
    415: "`unsupported_media_type`: a body that is not JSON",
    422: "`invalid` (values refused, named in `fields`), `idempotency_key_reused` (POST)",
    429: "`too_many_requests`: over the token's rate limit, or too many failed authentications from this address",
}
RESPONSE_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                  413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests"}

RATE_HEADERS = {
    "RateLimit-Limit": ("integer", "requests allowed in the current window (per token)"),
    "RateLimit-Remaining": ("integer", "requests left in the current window"),
    "RateLimit-Reset": ("integer", "seconds until the window resets"),
}

EXAMPLE_STRINGS = {
    "code": "PVPT", "shelter": "PVPT", "case_code": "C-7Q4M-2K9D", "name": "Shelter for victims of trafficking",
    "region": "Prishtinë", "municipality": "Prishtinë", "address": "(withheld) Rruga 1", "telephone": "+383 38 000 000",
    "nationality": "MD", "username": "officer.krasniqi", "organisation": "KP", "message": "No free bed: 5 of 5 taken.",
    "note": "placed with family after assessment", "reason": "other", "subject": "PVPT", "by": "officer.krasniqi",
    "user": "officer.krasniqi", "method": "cp-sat", "operator": "PVPT", "next_cursor": "WzQyXQ", "password": "(secret)",
    "cursor": "WyJQVlBUIl0", "error_code": "shelter_full",
}


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def _walk(node: Any, visit) -> Any:  # noqa: ANN001
    """Rebuild `node` bottom-up, `visit` turning each dict into what it becomes."""
    if isinstance(node, dict):
        return visit({key: _walk(value, visit) for key, value in node.items()})
    if isinstance(node, list):
        return [_walk(item, visit) for item in node]
    return node


def _shared_enums(node: Any) -> Any:
    by_values = {frozenset(values): name for name, (values, _) in ENUMS.items()}

    def visit(d: dict) -> dict:
        values = d.get("enum")
        if not values or d.get("type") not in (None, "string"):
            return d
        name = by_values.get(frozenset(v for v in values if v is not None))
        if name is None:
            return d
        rest = {k: v for k, v in d.items() if k not in ("enum", "type")}
        if d.get("nullable"):  # a $ref takes no siblings in OpenAPI 3.0: the enum with null in it, named
            return d | {"enum": [*ENUMS[name][0], None], "x-enum": name}
        if rest:
            return {"allOf": [_schema_ref(name)], **rest}
        return _schema_ref(name)

    return _walk(node, visit)


def _example(schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A plausible value of `schema` (property names pick the strings), valid against it."""
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        found = components[target]
        return found.get("example", _example(found, components, name, depth + 1))
    if "allOf" in schema:
        return _example(schema["allOf"][0], components, name, depth)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        props = schema.get("properties", {})
        return {key: _example(value, components, key, depth + 1) for key, value in props.items()
                if key in schema.get("required", []) or depth < 2}
    if kind == "array":
        return [_example(schema.get("items", {}), components, name, depth + 1)] if depth < 4 else []
    if kind in ("integer", "number"):
        value = ({"id": 42, "stay_id": 17, "version": 3, "days": 30, "limit": 50, "birth_year": 2001, "age": 24,
                  "lat": 42.66, "lon": 21.17}.get(name, 4 if kind == "integer" else 0.8))
        value = max(value, schema.get("minimum", value))
        return min(value, schema.get("maximum", value))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-03-02T09:30:00+00:00"
        if fmt == "date":
            return "2026-03-02"
        if name in ("languages", "trafficker_regions"):
            return "sq" if name == "languages" else "Prishtinë"
        if "pattern" in schema:
            return {"nationality": "MD", "username": "officer.krasniqi"}.get(name, "PVPT")
        value = EXAMPLE_STRINGS.get(name, name.replace("_", " ") or "text")
        return value if value is not None else "text"
    return None


def _error_components(components: dict[str, Any]) -> None:
    detail_props: dict[str, Any] = {
        "code": {"type": "string", "description": "stable and machine-readable: see each operation's answers"},
        "message": {"type": "string", "description": "what went wrong, in English, for a person"},
        "fields": {"type": "object", "additionalProperties": {},
                   "description": "the request's fields (or parameters, headers) refused, each with why"},
    }
    for figure, (schema, description) in FIGURES.items():
        detail_props[figure] = {**schema, "description": description}
    components["ErrorDetail"] = {
        "type": "object", "required": ["code", "message", "fields"], "properties": detail_props,
        "additionalProperties": True,
        "description": "A refusal. Some carry extra figures beside code, message and fields; each operation lists "
                       "the ones its answers carry.",
        "example": {"code": "shelter_full", "message": "No free bed: 5 of 5 taken.", "fields": {"shelter": "full"},
                    "usable": 5, "occupied": 4, "reserved": 1, "needed": 1},
    }
    components["Error"] = {
        "type": "object", "required": ["error"], "properties": {"error": _schema_ref("ErrorDetail")},
        "description": "Every error the API answers, whatever its status.",
        "example": {"error": {"code": "not_found", "message": "No shelter XYZ.", "fields": {"code": "unknown"}}},
    }


def _error_response(status: int, codes: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": codes, "content": {"application/json": {"schema": _schema_ref("Error")}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"description": 'Bearer realm="Safe Haven API"; with '
                                                                   'error="invalid_token" when a token was refused',
                                                    "schema": {"type": "string"}}}
    if status == 429:
        response["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
                               **{name: {"description": d, "schema": {"type": t}}
                                  for name, (t, d) in RATE_HEADERS.items()}}
    return response


def _refusal_text(status: int, extra: dict[str, tuple[str, ...]]) -> str:
    own = "; ".join(f"`{code}`" + (f" (figures: {', '.join(f'`{f}`' for f in figures)})" if figures else "")
                    for code, figures in extra.items())
    return "; ".join(part for part in (own, COMMON_CODES.get(status, "")) if part)


def _operations(app: Flask, paths: dict[str, Any]):  # noqa: ANN202
    """(endpoint, view, method, operation) of every documented API operation."""
    for rule in app.url_map.iter_rules():
        path = paths.get(_flask_path(rule.rule))
        if path is None or rule.endpoint.startswith("api-docs"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = path.get(method.lower())
            if operation is not None:
                yield rule.endpoint, view, method, operation, "<" in rule.rule


def _finish_operation(endpoint: str, view: Any, method: str, op: dict[str, Any], has_path: bool) -> None:
    op["operationId"] = OPERATION_IDS.get(endpoint, endpoint.split(".", 1)[1])
    responses = op.setdefault("responses", {})
    responses.pop("default", None)
    has_body = method in ("POST", "PATCH", "PUT")
    has_query = any(p.get("in") == "query" for p in op.get("parameters", []))
    statuses = {400, 401, 429}
    roles = getattr(view, "required_roles", None)
    if endpoint not in NEVER_FORBIDDEN or (roles is not None and frozenset(roles) != ALL_ROLES):
        statuses.add(403)
    if has_path or has_body:
        statuses.add(404)
    if has_body:
        statuses |= {409, 413, 415, 422}
    if has_query:
        statuses.add(422)
    refusals = REFUSALS.get(endpoint, {})
    statuses |= set(refusals)
    for status in sorted(statuses):
        extra = refusals.get(status, {})
        if extra:
            responses[str(status)] = _error_response(status, _refusal_text(status, extra))
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{RESPONSE_NAMES[status]}"}
    for status, response in responses.items():
        if not status.startswith("2"):
            continue
        headers = response.setdefault("headers", {})
        headers.update({name: {"description": d, "schema": {"type": t}} for name, (t, d) in RATE_HEADERS.items()})
        if status == "201":
            headers["Location"] = {"description": "where the new resource is read", "required": True,
                                   "schema": {"type": "string"}}
        if method == "POST":
            headers["Idempotent-Replayed"] = {"description": "`true` when this is the answer kept for the "
                                                             "`Idempotency-Key` sent", "schema": {"type": "string"}}
        if getattr(view, "paged", False):
            headers["Link"] = {"description": '`<URL>; rel="next"` while `next_cursor` is not null',
                               "schema": {"type": "string"}}


def finish(app: Flask, document: dict[str, Any], schema_classes: dict[str, type]) -> dict[str, Any]:
    """The document flask-smorest generated, finished as the module docstring says. `schema_classes`: the
    marshmallow class behind each component schema (for its docstring and `OPTIONAL` fields)."""
    doc = copy.deepcopy(document)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, (values, description) in ENUMS.items():
        schemas[name] = {"type": "string", "enum": list(values), "description": description, "example": values[0]}
    _error_components(schemas)
    components["responses"] = {RESPONSE_NAMES[s]: _error_response(s, COMMON_CODES[s]) for s in RESPONSE_NAMES}
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http", "scheme": "bearer",
        "description": "An API token: `flask --app app users token USERNAME [--days N]` prints one (an "
                       "administrator runs it on the server); send it as `Authorization: Bearer TOKEN`. Tokens "
                       "last SAFEHAVEN_TOKEN_DAYS (90) and end when the user's password is reset.",
    }
    doc["servers"] = [{"url": "/", "description": "this Safe Haven instance (paths begin /api/v1)"}]
    for endpoint, view, method, operation, has_path in _operations(app, doc.get("paths", {})):
        _finish_operation(endpoint, view, method, operation, has_path)
    schemas.pop("PaginationMetadata", None)  # flask-smorest's page-number paging, which the API does not use
    for name, schema in list(schemas.items()):
        cls = schema_classes.get(name)
        if cls is None:
            continue
        optional = getattr(cls, "OPTIONAL", None)
        if optional is not None:  # an output: every field is always there but those named
            schema["required"] = [key for key in schema.get("properties", {}) if key not in optional]
        schema.setdefault("description", inspect.getdoc(cls) or "")
    for tag in doc.get("tags", []):  # "shelters_api" is the blueprint's name; integrators read "shelters"
        tag["name"] = tag["name"].removesuffix("_api")
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "tags" in operation:
                operation["tags"] = [t.removesuffix("_api") for t in operation["tags"]]
    named = {name: schemas.pop(name) for name in ENUMS}
    doc = _shared_enums(doc)
    schemas = doc["components"]["schemas"]
    schemas.update(named)
    for name, schema in schemas.items():
        if "example" not in schema:
            schema["example"] = _example(schema, schemas, "", 0)
    return doc
