"""Cursor paging and filters on every API list (paging.py): limit, cursor, next_cursor, Link; stable under inserts."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts import services as alert_services
from alerts.rules import Decision
from extensions import db


def _pages(api, path: str, key: str) -> list[list[dict]]:
    pages, url = [], path
    while True:
        answer = api.get(url)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        pages.append(body[key])
        if body["next_cursor"] is None:
            assert "Link" not in answer.headers
            return pages
        link = answer.headers["Link"]
        assert link.endswith('>; rel="next"')
        target = link[1:link.index(">")]
        assert parse_qs(urlsplit(target).query)["cursor"] == [body["next_cursor"]]
        url = target.removeprefix("/api/v1")


def test_shelters_page_by_code_and_stay_stable_under_inserts(api_as, make):
    for code in ("B1", "C1", "D1", "F1", "G1"):
        make.shelter(code, capacity=2)
    api = api_as(make.user("secretariat"))
    first = api.get("/shelters?limit=2")
    assert [s["code"] for s in first.get_json()["shelters"]] == ["B1", "C1"]
    # Inserted while the caller pages: before the cursor (never seen, nothing shifts) and after it (seen once).
    make.shelter("A1", capacity=2)
    make.shelter("E1", capacity=2)
    rest = _pages(api, first.headers["Link"][1:first.headers["Link"].index(">")].removeprefix("/api/v1"), "shelters")
    assert [[s["code"] for s in page] for page in rest] == [["D1", "E1"], ["F1", "G1"]]


def test_shelter_filters(api_as, make):
    make.stay(make.shelter("FULL", capacity=1, region="Pejë"))
    make.shelter("SUSP", capacity=2, region="Prishtinë", status="suspended")
    make.shelter("OPEN", capacity=2, region="Pejë")
    api = api_as(make.user("secretariat"))
    codes = lambda q: [s["code"] for s in api.get(f"/shelters?{q}").get_json()["shelters"]]  # noqa: E731
    assert codes("region=Pej%C3%AB") == ["FULL", "OPEN"]
    assert codes("status=suspended") == ["SUSP"]
    assert codes("has_free_beds=false") == ["FULL"]
    assert codes("has_free_beds=true&region=Pej%C3%AB") == ["OPEN"]
    assert api.get("/shelters?status=gone").status_code == 422


def test_placements_page_newest_first_with_concurrent_requests(api_as, make):
    shelter = make.shelter("PVPT", capacity=50)
    officer = make.user("police")
    police = api_as(officer)
    made = [police.post("/placements", json={"case_code": make.case(officer).code}).get_json()["id"]
            for _ in range(7)]
    seen, url = [], "/placements?limit=3"
    while url:
        answer = police.get(url)
        body = answer.get_json()
        seen += [p["id"] for p in body["placements"]]
        # Another officer's colleague keeps adding requests while this one pages: they sort before the cursor.
        police.post("/placements", json={"case_code": make.case(officer).code})
        url = answer.headers["Link"][1:answer.headers["Link"].index(">")].removeprefix("/api/v1") \
            if body["next_cursor"] else None
    assert seen == sorted(made, reverse=True), "every request present at the start, once, newest first"
    assert shelter.code == "PVPT"


def test_placement_filters(api_as, make, now):
    pvpt, hah = make.shelter("PVPT", capacity=5), make.shelter("HAH", capacity=5)
    officer = make.user("police")
    at_pvpt = make.reserved(pvpt, by=officer)
    at_hah = make.reserved(hah, by=officer)
    police = api_as(officer)
    emergency = police.post("/placements", json={"case_code": make.case(officer).code, "urgency": "emergency"})
    secretariat = api_as(make.user("secretariat"))
    ids = lambda api, q: [p["id"] for p in api.get(f"/placements?{q}").get_json()["placements"]]  # noqa: E731
    assert ids(secretariat, "status=reserved") == [at_hah.id, at_pvpt.id]
    assert ids(secretariat, "urgency=emergency") == [emergency.get_json()["id"]]
    assert ids(secretariat, "shelter=PVPT") == [at_pvpt.id]
    assert ids(api_as(make.manager(pvpt)), "shelter=HAH") == []
    since = (now + timedelta(hours=1)).isoformat()
    assert ids(secretariat, "since=" + since.replace("+", "%2B")) == []
    refused = police.get("/placements?shelter=PVPT")
    assert refused.status_code == 403 and list(refused.get_json()["error"]["fields"]) == ["shelter"]
    assert police.get("/placements?status=nonsense").status_code == 422


def test_alerts_page_in_review_order(api_as, make, now):
    for code in ("AA", "BB", "CC"):
        make.shelter(code, capacity=2)
    alert_services.upsert(db.session, now - timedelta(days=1), [
        Decision("unused_facility", "shelter", code, severity, f"{code} unused", {"days_unused": 20}, shelter=code)
        for code, severity in (("AA", "warning"), ("BB", "critical"), ("CC", "warning"))], ["unused_facility"])
    db.session.commit()
    api = api_as(make.user("secretariat"))
    whole = [a["id"] for a in api.get("/alerts").get_json()["alerts"]]
    paged = [a["id"] for page in _pages(api, "/alerts?limit=1", "alerts") for a in page]
    assert paged == whole and len(whole) == 3


def test_users_and_organisations_page(api_as, make):
    admin = make.user("admin", username="admin-x")
    for name in ("u-a", "u-b", "u-c"):
        make.user("police", username=name)
    for n in range(3):
        make.org(code=f"ORG-P{n}")
    api = api_as(admin)
    users = [u["username"] for page in _pages(api, "/users?limit=2", "users") for u in page]
    assert users == sorted(users) and {"u-a", "u-b", "u-c", "admin-x"} <= set(users)
    orgs = [o["code"] for page in _pages(api, "/organisations?limit=2", "organisations") for o in page]
    assert orgs == ["ORG-P0", "ORG-P1", "ORG-P2"]


@pytest.mark.parametrize("query, status", [("limit=0", 422), ("limit=501", 422), ("limit=500", 200),
                                           ("cursor=not-a-cursor", 400), ("cursor=WzVd", 200), ("cursor=WyJ4Il0", 400)])
def test_limits_and_bad_cursors(api_as, make, query, status):
    answer = api_as(make.user("secretariat")).get(f"/placements?{query}")
    assert answer.status_code == status, answer.get_json()
    if status == 400:
        assert list(answer.get_json()["error"]["fields"]) == ["cursor"]


def test_the_default_page_is_50(api_as, make):
    for n in range(52):
        make.shelter(f"S{n:02d}", capacity=1)
    body = api_as(make.user("police")).get("/shelters").get_json()
    assert len(body["shelters"]) == 50 and body["next_cursor"]


def test_cases_page_by_code_filter_by_status_and_are_audited(api_as, make):
    from accounts.models import AuditEvent

    officer, other = make.user("police"), make.user("police")
    mine = sorted(make.case(officer).code for _ in range(3))
    make.case(other)
    police = api_as(officer)
    pages = _pages(police, "/cases?limit=2", "cases")
    assert [[c["case_code"] for c in page] for page in pages] == [mine[:2], mine[2:]]
    assert set(pages[0][0]) == {"case_code", "status", "identified_on", "region", "anonymised"}  # no shelter
    read = db.session.scalars(db.select(AuditEvent.object_id).where(AuditEvent.action == "case.read")).all()
    assert sorted(read) == mine
    assert [c["case_code"] for c in police.get("/cases?status=placed").get_json()["cases"]] == []
    assert len(api_as(make.user("secretariat")).get("/cases").get_json()["cases"]) == 4
    assert api_as(make.user("partner")).get("/cases").status_code == 403


def test_paging_while_another_client_inserts_concurrently(app, make):
    """A real server answering two clients at once: one pages through placements while the other keeps opening
    requests. Every request present before paging began is seen exactly once, in order; nothing repeats."""
    import http.client
    import json
    import threading

    from werkzeug.serving import make_server

    pvpt = make.shelter("PVPT", capacity=50)
    officer = make.user("police")
    token = make.token(officer)
    before = [make.reserved(pvpt, by=officer).id for _ in range(9)]
    waiting = [make.case(officer).code for _ in range(40)]
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request(method, "/api/v1" + path, body=json.dumps(body) if body else None, headers=headers)
        answer = conn.getresponse()
        data = json.loads(answer.read())
        conn.close()
        return answer.status, data, dict(answer.getheaders())

    started = threading.Event()
    stop = threading.Event()
    inserted: list[int] = []

    def writer() -> None:
        started.set()
        for code in waiting:
            if stop.is_set():
                return
            status, data, _ = call("POST", "/placements", {"case_code": code})
            assert status == 201, data
            inserted.append(data["id"])

    thread = threading.Thread(target=writer)
    try:
        thread.start()
        started.wait(5)
        seen, path = [], "/placements?limit=2"
        while path:
            status, data, answer_headers = call("GET", path)
            assert status == 200, data
            seen += [p["id"] for p in data["placements"]]
            link = answer_headers.get("Link")
            path = link[1:link.index(">")].removeprefix("/api/v1") if data["next_cursor"] else None
    finally:
        stop.set()
        thread.join(60)
        server.shutdown()
    assert len(seen) == len(set(seen)), "no request is listed twice"
    assert seen == sorted(seen, reverse=True), "newest first throughout"
    assert [i for i in seen if i in before] == sorted(before, reverse=True), "every earlier request, once"
    assert set(seen) - set(before) <= set(inserted)


def test_residents_page_oldest_admission_first_and_each_page_is_audited(api_as, make, now):
    from accounts.models import AuditEvent

    shelter = make.shelter("PVPT", capacity=10, opened_on=(now - timedelta(days=30)).date())
    stays = [make.stay(shelter, admitted_at=now - timedelta(days=d)) for d in (5, 3, 3, 1)]
    expected = [s.id for s in sorted(stays, key=lambda s: (s.admitted_at, s.id))]
    api = api_as(make.manager(shelter))
    pages = _pages(api, "/shelters/PVPT/residents?limit=3", "residents")
    assert [[r["stay_id"] for r in page] for page in pages] == [expected[:3], expected[3:]]
    reads = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "shelter.residents_read")).all()
    assert len(reads) == 2
