"""Every route of the app against every role, and the ownership cases, with the expected answer written here.

"allow" means the caller got past the role gate and the record check: 2xx, a redirect that is not to the
sign-in page, or a refusal of the (empty) input (400/409/422). "deny" means 401, 403, 404 or a redirect to
sign in. Nothing may answer 500. A route that appears in the app but not in ROUTES fails the test, so a new
route cannot ship without a decision about who may use it.
"""

from __future__ import annotations

import re

import pytest

from extensions import db

A, S, M, P, X = "admin", "secretariat", "shelter_manager", "police", "partner"
ROLES = (A, S, M, P, X, "anonymous")
EVERYONE = frozenset({A, S, M, P, X})
NOBODY: frozenset[str] = frozenset()
PUBLIC = "public"  # reachable signed out; any answer but a 5xx
MISSING = 999_999  # ids of placements, alerts and stays: nobody may reach a record that does not exist

# (method, rule) -> allowed roles, or {"own": ..., "other": ...} for a route about a shelter or a case,
# where "own" is the manager's own shelter / the officer's own case and "other" someone else's.
ROUTES: dict[tuple[str, str], object] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/home"): EVERYONE,
    ("GET", "/health"): PUBLIC,
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
    ("GET", "/alerts/<int:alert_id>"): NOBODY,
    ("POST", "/alerts/<int:alert_id>/acknowledge"): NOBODY,
    ("POST", "/alerts/<int:alert_id>/comments"): NOBODY,
    ("POST", "/alerts/<int:alert_id>/resolve"): NOBODY,
    ("GET", "/shelters"): EVERYONE,
    ("GET", "/shelters/<code>"): {"own": {A, S, M, P}, "other": {A, S, M, P}},  # partners: aggregates only
    ("POST", "/shelters/<code>/admit"): {"own": {S, M}, "other": {S}},
    ("POST", "/shelters/<code>/capacity"): {"own": {A, S, M}, "other": {A, S}},
    ("POST", "/shelters/<code>/headcount"): {"own": {M}, "other": NOBODY},
    ("GET", "/shelters/<code>/edit"): {"own": {A, S}, "other": {A, S}},
    ("POST", "/shelters/<code>/edit"): {"own": {A, S}, "other": {A, S}},
    ("GET", "/shelters/new"): {A, S},
    ("POST", "/shelters/new"): {A, S},
    ("POST", "/stays/<int:stay_id>/discharge"): NOBODY,
    ("GET", "/cases/new"): {S, P},
    ("POST", "/cases/new"): {S, P},
    ("GET", "/cases/<code>"): {"own": {S, P}, "other": {S}},
    ("GET", "/placements"): {S, M, P},
    ("GET", "/placements/new"): {S, P},
    ("POST", "/placements/new"): {S, P},
    ("POST", "/placements/batch"): {S},
    ("GET", "/placements/<int:request_id>"): NOBODY,
    ("POST", "/placements/<int:request_id>/accept"): NOBODY,
    ("POST", "/placements/<int:request_id>/admit"): NOBODY,
    ("POST", "/placements/<int:request_id>/cancel"): NOBODY,
    ("POST", "/placements/<int:request_id>/decline"): NOBODY,
    ("POST", "/placements/<int:request_id>/reject"): NOBODY,
    ("POST", "/placements/<int:request_id>/reserve"): NOBODY,
    ("GET", "/overview"): {S},
    ("GET", "/overview.csv"): {S},  # then re-authentication
    ("GET", "/overview/trends"): {S},
    ("GET", "/overview/trends.csv"): {S},
    ("GET", "/figures"): {S, X},  # partners: suppressed aggregates only
    ("GET", "/stats"): {M},  # a manager's own shelters only (tests/reports/test_stats.py)
    ("GET", "/stats.csv"): {M},  # then re-authentication
    # the API: bearer tokens only
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/me"): EVERYONE,
    ("GET", "/api/v1/organisations"): {A, S},
    ("POST", "/api/v1/organisations"): {A},
    ("GET", "/api/v1/users"): {A, S},
    ("POST", "/api/v1/users"): {A},
    ("GET", "/api/v1/shelters"): EVERYONE,
    ("POST", "/api/v1/shelters"): {A, S},
    ("GET", "/api/v1/shelters/<code>"): {"own": {A, S, M, P}, "other": {A, S, M, P}},
    ("PATCH", "/api/v1/shelters/<code>"): {"own": {A, S, M}, "other": {A, S}},
    ("GET", "/api/v1/shelters/<code>/residents"): {"own": {S, M}, "other": {S}},
    ("POST", "/api/v1/shelters/<code>/headcount"): {"own": {M}, "other": NOBODY},
    ("POST", "/api/v1/shelters/<code>/stays"): {"own": {S, M}, "other": {S}},
    ("POST", "/api/v1/stays/<int:stay_id>/discharge"): NOBODY,
    ("POST", "/api/v1/cases"): {S, P},
    ("GET", "/api/v1/cases/<code>"): {"own": {S, P}, "other": {S}},
    ("GET", "/api/v1/placements"): {S, M, P},
    ("POST", "/api/v1/placements"): {S, P},
    ("POST", "/api/v1/placements/batch"): {S},
    ("GET", "/api/v1/placements/<int:request_id>"): NOBODY,
    ("POST", "/api/v1/placements/<int:request_id>/accept"): NOBODY,
    ("POST", "/api/v1/placements/<int:request_id>/admit"): NOBODY,
    ("POST", "/api/v1/placements/<int:request_id>/cancel"): NOBODY,
    ("POST", "/api/v1/placements/<int:request_id>/decline"): NOBODY,
    ("POST", "/api/v1/placements/<int:request_id>/reject"): NOBODY,
    ("POST", "/api/v1/placements/<int:request_id>/reserve"): NOBODY,
    ("GET", "/api/v1/alerts"): {S, M},
    ("GET", "/api/v1/alerts/<int:alert_id>"): NOBODY,
    ("POST", "/api/v1/alerts/<int:alert_id>/acknowledge"): NOBODY,
    ("POST", "/api/v1/alerts/<int:alert_id>/comments"): NOBODY,
    ("POST", "/api/v1/alerts/<int:alert_id>/resolve"): NOBODY,
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
def test_route_matrix(app, make, role):
    manager_own = make.shelter("OWN1")
    make.shelter("OTH1")
    officer = make.user(P, username="officer-a")
    other_officer = make.user(P, username="officer-b")
    own_case = make.case(created_by=officer)
    other_case = make.case(created_by=other_officer)
    users = {A: make.user(A, username="admin-a"), S: make.user(S, username="sec-a"),
             M: make.manager(manager_own, username="mgr-a"), P: officer, X: make.user(X, username="partner-a")}
    make.user(P, username="target-user")
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
            code = {"own": {"shelter": "OWN1", "case": own_case.code},
                    "other": {"shelter": "OTH1", "case": other_case.code}}.get(ownership, {})
            values = {"code": code.get("case" if "/cases/" in rule else "shelter", "NONE"),
                      "filename": "app.css", "username": "target-user",
                      "alert_id": str(MISSING), "request_id": str(MISSING), "stay_id": str(MISSING)}
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
