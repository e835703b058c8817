"""Every route of the app against every role, and the ownership cases, with the expected answer written here.

"allow" means the caller got past the role gate and the record check: 2xx, a redirect that is not to the
sign-in page, or a refusal of the (empty) input (400/409/422). "deny" means 401, 403, 404 or a redirect to
sign in. Nothing may answer 500. A route that appears in the app but not in ROUTES fails the test, so a new
route cannot ship without a decision about who may use it.

Every route about a record is tried on a record of the caller's own and on someone else's ("own" / "other"):
a shelter the manager runs or not; a case the officer identified that stays at the manager's shelter, or
another officer's staying elsewhere; a placement request the officer made holding a bed at the manager's
shelter, or another officer's holding one elsewhere; a stay and an alert at the manager's shelter or elsewhere.
"""

from __future__ import annotations

import re

import pytest
from flask_migrate import stamp

from alerts import services as alert_services
from alerts.rules import Decision
from extensions import db

A, S, M, P, X = "admin", "secretariat", "shelter_manager", "police", "partner"
ROLES = (A, S, M, P, X, "anonymous")
EVERYONE = frozenset({A, S, M, P, X})
NOBODY: frozenset[str] = frozenset()
PUBLIC = "public"  # reachable signed out; any answer but a 5xx


def owned(own: set[str] | frozenset[str], other: set[str] | frozenset[str]) -> dict[str, frozenset[str]]:
    return {"own": frozenset(own), "other": frozenset(other)}


# (method, rule) -> allowed roles, or owned(...) for a route about a record (see the module's docstring).
ROUTES: dict[tuple[str, str], object] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/home"): EVERYONE,
    ("GET", "/health"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,  # ready: the database is stamped at the migrations' head below
    ("GET", "/imports"): {S},
    ("POST", "/imports"): {S},
    ("GET", "/imports/templates/<kind>.<fmt>"): {S},
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/two-factor"): PUBLIC,
    ("POST", "/login/two-factor"): PUBLIC,
    ("GET", "/login/two-factor/enrol"): PUBLIC,
    ("POST", "/login/two-factor/enrol"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("POST", "/language"): PUBLIC,
    ("GET", "/account/reauth"): EVERYONE,
    ("POST", "/account/reauth"): EVERYONE,
    ("GET", "/account/password"): EVERYONE,
    ("POST", "/account/password"): EVERYONE,
    ("GET", "/account/timezone"): EVERYONE,
    ("POST", "/account/timezone"): EVERYONE,
    ("GET", "/session/alive"): EVERYONE,
    ("GET", "/session/kept"): EVERYONE,
    ("GET", "/admin/organisations"): {A, S},
    ("POST", "/admin/organisations"): {A},
    ("GET", "/admin/users"): {A, S},
    ("POST", "/admin/users"): {A},
    ("POST", "/admin/users/<username>/role"): {A},
    ("POST", "/admin/users/<username>/status"): {A},
    ("POST", "/admin/users/<username>/unlock"): {A},
    ("POST", "/admin/users/<username>/two-factor-reset"): {A},
    ("GET", "/audit"): {A, S},
    ("GET", "/alerts"): {S, M},
    ("GET", "/alerts/<int:alert_id>"): owned({S, M}, {S}),
    ("POST", "/alerts/<int:alert_id>/acknowledge"): owned({S}, {S}),
    ("POST", "/alerts/<int:alert_id>/comments"): owned({S, M}, {S}),
    ("POST", "/alerts/<int:alert_id>/resolve"): owned({S}, {S}),
    ("GET", "/shelters"): EVERYONE,
    ("GET", "/shelters/<code>"): owned({A, S, M, P}, {A, S, M, P}),  # partners: aggregates only
    ("POST", "/shelters/<code>/admit"): owned({S, M}, {S}),
    ("POST", "/shelters/<code>/capacity"): owned({A, S, M}, {A, S}),
    ("POST", "/shelters/<code>/headcount"): owned({M}, NOBODY),
    ("GET", "/shelters/<code>/edit"): owned({A, S}, {A, S}),
    ("POST", "/shelters/<code>/edit"): owned({A, S}, {A, S}),
    ("GET", "/shelters/new"): {A, S},
    ("POST", "/shelters/new"): {A, S},
    ("POST", "/stays/<int:stay_id>/discharge"): owned({S, M}, {S}),
    ("GET", "/cases/new"): {S, P},
    ("POST", "/cases/new"): {S, P},
    ("GET", "/cases/<code>"): owned({S, M, P}, {S}),
    ("GET", "/placements"): {S, M, P},
    ("GET", "/placements/live"): {S, M, P},
    ("GET", "/placements/new"): {S, P},
    ("POST", "/placements/new"): {S, P},
    ("POST", "/placements/batch"): {S},
    ("POST", "/placements/batch/preview"): {S},
    ("GET", "/placements/<int:request_id>"): owned({S, M, P}, {S}),
    ("POST", "/placements/<int:request_id>/accept"): owned({M}, NOBODY),
    ("POST", "/placements/<int:request_id>/admit"): owned({M}, NOBODY),
    ("POST", "/placements/<int:request_id>/cancel"): owned({S, P}, {S}),
    ("POST", "/placements/<int:request_id>/decline"): owned({S, P}, {S}),
    ("POST", "/placements/<int:request_id>/reject"): owned({M}, NOBODY),
    ("POST", "/placements/<int:request_id>/reserve"): owned({S, P}, {S}),
    ("GET", "/overview"): {S},
    ("GET", "/overview.csv"): {S},  # then re-authentication
    ("GET", "/overview/trends"): {S},
    ("GET", "/overview/trends.csv"): {S},
    ("GET", "/overview/shelters/<code>/funnel"): owned({S}, {S}),
    ("GET", "/overview/actions"): {S},
    ("POST", "/overview/actions"): {S},
    ("GET", "/overview/actions.csv"): {S},  # then re-authentication
    ("POST", "/overview/actions/<int:action_id>/status"): owned({S}, {S}),
    ("GET", "/api/v1/reports/shelters/<code>/funnel"): owned({S}, {S}),
    ("GET", "/figures"): {S, X},  # partners: suppressed aggregates only
    ("GET", "/stats"): {M},  # a manager's own shelters only (tests/reports/test_stats.py)
    ("GET", "/stats.csv"): {M},  # then re-authentication
    # the API: bearer tokens only
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/me"): EVERYONE,
    ("GET", "/api/v1/organisations"): {A, S},
    ("POST", "/api/v1/organisations"): {A},
    ("GET", "/api/v1/organisations/<code>"): {A, S},
    ("GET", "/api/v1/users"): {A, S},
    ("POST", "/api/v1/users"): {A},
    ("GET", "/api/v1/users/<username>"): {A, S},
    ("GET", "/api/v1/shelters"): EVERYONE,
    ("POST", "/api/v1/shelters"): {A, S},
    ("GET", "/api/v1/shelters/<code>"): owned({A, S, M, P}, {A, S, M, P}),
    ("PATCH", "/api/v1/shelters/<code>"): owned({A, S, M}, {A, S}),
    ("GET", "/api/v1/shelters/<code>/residents"): owned({S, M}, {S}),
    ("POST", "/api/v1/shelters/<code>/headcount"): owned({M}, NOBODY),
    ("POST", "/api/v1/shelters/<code>/stays"): owned({S, M}, {S}),
    ("POST", "/api/v1/stays/<int:stay_id>/discharge"): owned({S, M}, {S}),
    ("POST", "/api/v1/cases"): {S, P},
    ("GET", "/api/v1/cases"): {S, P},
    ("GET", "/api/v1/cases/<code>"): owned({S, M, P}, {S}),
    ("GET", "/api/v1/placements"): {S, M, P},
    ("POST", "/api/v1/placements"): {S, P},
    ("POST", "/api/v1/placements/batch"): {S},
    ("GET", "/api/v1/placements/<int:request_id>"): owned({S, M, P}, {S}),
    ("POST", "/api/v1/placements/<int:request_id>/accept"): owned({M}, NOBODY),
    ("POST", "/api/v1/placements/<int:request_id>/admit"): owned({M}, NOBODY),
    ("POST", "/api/v1/placements/<int:request_id>/cancel"): owned({S, P}, {S}),
    ("POST", "/api/v1/placements/<int:request_id>/decline"): owned({S, P}, {S}),
    ("POST", "/api/v1/placements/<int:request_id>/reject"): owned({M}, NOBODY),
    ("POST", "/api/v1/placements/<int:request_id>/reserve"): owned({S, P}, {S}),
    ("GET", "/api/v1/alerts"): {S, M},
    ("GET", "/api/v1/alerts/<int:alert_id>"): owned({S, M}, {S}),
    ("POST", "/api/v1/alerts/<int:alert_id>/acknowledge"): owned({S}, {S}),
    ("POST", "/api/v1/alerts/<int:alert_id>/comments"): owned({S, M}, {S}),
    ("POST", "/api/v1/alerts/<int:alert_id>/resolve"): owned({S}, {S}),
    ("GET", "/api/v1/stats/utilisation"): {S, M, X},
}

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def app_routes(app) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_is_in_the_table(app):
    routes = app_routes(app)
    assert routes - set(ROUTES) == set(), "routes without an expected answer: add them to ROUTES"
    assert set(ROUTES) - routes == set(), "ROUTES lists routes the app no longer has"


def _action(make, shelter: str) -> int:  # noqa: ANN001
    """An action of the secretariat's plan about `shelter` (reports.actions)."""
    from reports import actions

    record = actions.create_action(db.session, make.user(S), make.now(), {
        "title": f"Use {shelter}", "owner": make.org().code, "due_on": make.now().date(), "shelters": [shelter]})
    db.session.commit()
    return record.id


def _fill(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


def _denied(response) -> bool:  # noqa: ANN001
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", "")


def _allowed(response) -> bool:  # noqa: ANN001
    return not _denied(response) and (response.status_code < 400 or response.status_code in REFUSED_INPUT)


# The empty input is refused. The role gate runs before the body is read, the record check after it:
# for someone else's record a refused (empty) input says nothing about that record and changes nothing,
# so it counts as a denial there (see docs/security.md, "route matrix").
REFUSED_INPUT = (400, 409, 422)


@pytest.mark.parametrize("role", ROLES)
def test_route_matrix(app, make, now, role):
    stamp()  # the schema was made from the models: say it is the migrations' head, as /readyz asks
    manager_own, other_shelter = make.shelter("OWN1", capacity=8), make.shelter("OTH1", capacity=8)
    officer = make.user(P, username="officer-a")
    other_officer = make.user(P, username="officer-b")
    own_case = make.stay(manager_own, make.case(created_by=officer)).case
    other_case = make.stay(other_shelter, make.case(created_by=other_officer)).case
    alerts = _alerts(now)
    records = {
        "own": {"shelter": "OWN1", "case": own_case.code,
                "request_id": make.reserved(manager_own, by=officer).id,
                "stay_id": make.stay(manager_own).id, "alert_id": alerts["OWN1"],
                "action_id": _action(make, "OWN1")},
        "other": {"shelter": "OTH1", "case": other_case.code,
                  "request_id": make.reserved(other_shelter, by=other_officer).id,
                  "stay_id": make.stay(other_shelter).id, "alert_id": alerts["OTH1"],
                  "action_id": _action(make, "OTH1")},
    }
    users = {A: make.user(A, username="admin-a"), S: make.user(S, username="sec-a"),
             M: make.manager(manager_own, username="mgr-a"), P: officer, X: make.user(X, username="partner-a")}
    make.user(P, username="target-user")
    make.org(code="MATRIX")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.9.0.{ROLES.index(role) + 1}"
    token = None
    if role != "anonymous":
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"username": users[role].username, "password": make.PASSWORD,
                                               "csrf_token": CSRF_META.search(page).group(1)})
        assert response.status_code == 302, f"{role} could not sign in"
        token = make.token(users[role])
    csrf = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)

    def call(method: str, path: str):  # noqa: ANN202
        if path.startswith("/api/v1"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return client.open(path, method=method, headers=headers, json={} if method != "GET" else None)
        data = {"csrf_token": csrf} if method != "GET" else None
        return client.open(path, method=method, data=data)

    failures = []
    ordered = sorted(ROUTES.items(), key=lambda item: item[0] == ("POST", "/logout"))  # sign out last
    for (method, rule), expected in ordered:
        cases = [("", expected)] if not isinstance(expected, dict) else list(expected.items())
        for ownership, allowed in cases:
            record = records.get(ownership, {})
            values = {name: str(value) for name, value in record.items() if name != "case"}
            values |= {"code": "MATRIX" if "/organisations/" in rule
                       else record.get("case" if "/cases/" in rule else "shelter", "NONE"),
                       "filename": "app.css", "username": "target-user", "kind": "shelters", "fmt": "csv"}
            path = _fill(rule, values)
            response = call(method, path)
            db.session.rollback()
            label = f"{role} {method} {path} ({ownership or 'no owner'}) -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(label + ": server error")
            elif allowed == PUBLIC:
                continue
            elif role in allowed and not _allowed(response):
                failures.append(label + ": expected allow")
            elif role not in allowed and not (_denied(response) or response.status_code in REFUSED_INPUT):
                failures.append(label + ": expected deny")
    assert failures == [], "\n".join(failures)


def _alerts(now) -> dict[str, int]:  # noqa: ANN001
    """An open alert about each shelter: alert id by shelter code."""
    alert_services.upsert(db.session, now, [
        Decision("unused_facility", "shelter", code, "warning", f"{code} unused", {"days_unused": 20}, shelter=code)
        for code in ("OWN1", "OTH1")], ["unused_facility"])
    db.session.commit()
    return {alert.subject: alert.id for alert in alert_services.list_alerts(db.session, "all")}
