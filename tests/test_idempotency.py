"""Idempotency-Key on API POSTs: a retry is answered from the record and never acts twice.

Sequential retries through the test client; then the same request fired at once from several
threads against a real threaded server, on SQLite and on PostgreSQL where TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from accounts.models import AuditEvent, IdempotencyKey
from alerts import scheduler
from extensions import db
from idempotency import HEADER, request_fingerprint
from shelters.models import Case, Reservation

PROFILE = {"sex": "female", "age": 22, "nationality": "MD", "languages": ["ro"], "region": "Prishtinë"}


def keyed(api, path: str, json=None, *, key: str):
    """POST as `api`'s user with an Idempotency-Key."""
    return api.client.post("/api/v1" + path, json=json, headers={**api._headers(), HEADER: key})


def count(model) -> int:
    db.session.expire_all()
    n = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return n


@pytest.fixture
def officer(make):
    return make.user("police")


@pytest.fixture
def police(api_as, officer):
    return api_as(officer)


def test_a_retried_case_creation_is_answered_from_the_record(police):
    first = keyed(police, "/cases", json=PROFILE, key="case-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    events = count(AuditEvent)
    # The same body with other spacing and key order is the same request.
    retry = police.client.post("/api/v1/cases", data='{"region": "Prishtinë", "sex": "female", "age": 22, '
                               '"nationality": "MD", "languages": ["ro"]}', content_type="application/json",
                               headers={**police._headers(), HEADER: "case-1"})
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert count(Case) == 1 and count(AuditEvent) == events  # nothing done, nothing audited twice
    # Without a key, or with a new one, the same body is a new case.
    assert police.post("/cases", json=PROFILE).get_json() != first.get_json()
    assert keyed(police, "/cases", json=PROFILE, key="case-2").get_json() != first.get_json()
    assert count(Case) == 3


def test_a_retried_reservation_holds_one_bed(police, make):
    make.shelter("PVPT", capacity=5)
    case = police.post("/cases", json=PROFILE).get_json()["case_code"]
    request_id = police.post("/placements", json={"case_code": case}).get_json()["id"]
    answers = [keyed(police, f"/placements/{request_id}/reserve", json={"shelter": "PVPT"}, key="r-1")
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert answers[1].get_json() == answers[2].get_json() == answers[0].get_json()
    assert count(Reservation) == 1
    # Without the key the second reserve is refused: it was already done.
    assert police.post(f"/placements/{request_id}/reserve", json={"shelter": "PVPT"}).status_code == 409


def test_the_same_key_for_another_request_is_refused(police):
    assert keyed(police, "/cases", json=PROFILE, key="k").status_code == 201
    other = keyed(police, "/cases", json=PROFILE | {"age": 23}, key="k")
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert HEADER in other.get_json()["error"]["fields"]
    assert keyed(police, "/placements", json={"case_code": "VOT-X"}, key="k").status_code == 422
    assert count(Case) == 1


def test_keys_belong_to_their_user(api_as, make, police):
    colleague = api_as(make.user("police"))
    mine = keyed(police, "/cases", json=PROFILE, key="shared")
    theirs = keyed(colleague, "/cases", json=PROFILE, key="shared")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.get_json()["case_code"] != theirs.get_json()["case_code"]
    assert count(Case) == 2


def test_a_refusal_is_replayed_and_a_server_error_is_not_kept(police, app, monkeypatch):
    refused = keyed(police, "/cases", json=PROFILE | {"age": -3}, key="bad")
    assert refused.status_code == 422
    again = keyed(police, "/cases", json=PROFILE | {"age": -3}, key="bad")
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == refused.get_json()

    from shelters import services

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production
    with monkeypatch.context() as patch:
        patch.setattr(services, "create_case", broken)
        assert keyed(police, "/cases", json=PROFILE, key="flaky").status_code == 500
    assert count(IdempotencyKey) == 1  # only "bad": the failed attempt left no record
    retry = keyed(police, "/cases", json=PROFILE, key="flaky")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(Case) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
def test_a_malformed_key_is_400_naming_the_header(police, key):
    answer = keyed(police, "/cases", json=PROFILE, key=key)
    assert answer.status_code == 400, answer.get_json()
    assert HEADER in answer.get_json()["error"]["fields"]
    assert count(Case) == 0
    assert keyed(police, "/cases", json=PROFILE, key="k" * 255).status_code == 201


def test_a_key_still_in_progress_is_409(police, officer, now):
    fingerprint = request_fingerprint("POST", "/api/v1/cases", b"", b'{"x": 1}')
    db.session.add(IdempotencyKey(user_id=officer.id, key="busy", request_hash=fingerprint, created_at=now))
    db.session.commit()
    answer = keyed(police, "/cases", json={"x": 1}, key="busy")
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "idempotency_in_progress"
    assert answer.headers["Retry-After"] == "1"
    # One abandoned by a killed worker long ago is handled afresh.
    db.session.get(IdempotencyKey, 1).created_at = now - timedelta(minutes=11)
    db.session.commit()
    afresh = keyed(police, "/cases", json={"x": 1}, key="busy")  # handled: refused as an invalid profile
    assert afresh.status_code == 422 and afresh.get_json()["error"]["code"] == "invalid"


def test_records_expire_and_the_retention_job_purges_them(police, app, now):
    first = keyed(police, "/cases", json=PROFILE, key="old")
    hours = app.config["SAFEHAVEN_IDEMPOTENCY_HOURS"]
    assert hours == 24
    record = db.session.scalar(select(IdempotencyKey))
    record.created_at = now - timedelta(hours=hours, minutes=1)
    db.session.commit()
    # Expired: the key is free again, so the request acts afresh.
    again = keyed(police, "/cases", json=PROFILE, key="old")
    assert again.status_code == 201 and again.get_json() != first.get_json()
    keyed(police, "/cases", json=PROFILE, key="newer")
    assert count(IdempotencyKey) == 2
    run = scheduler.run_job(app, "retention", now + timedelta(hours=hours, minutes=1))
    assert run.ok, run.error
    assert count(IdempotencyKey) == 0


def test_the_header_is_documented_on_every_post(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["parameters"]["IdempotencyKey"]["in"] == "header"
    ref = {"$ref": "#/components/parameters/IdempotencyKey"}
    posts = {path: ops["post"] for path, ops in spec["paths"].items() if "post" in ops}
    assert len(posts) >= 15
    assert all(ref in op.get("parameters", []) for op in posts.values())
    others = [op for ops in spec["paths"].values() for method, op in ops.items() if method != "post"]
    assert all(ref not in op.get("parameters", []) for op in others if isinstance(op, dict))


# --- concurrent retries against a real server --------------------------------------------------------------


@pytest.fixture(params=["werkzeug", "gunicorn"])
def server(request, app, database_url):
    """The test's database (SQLite file or PostgreSQL) served by werkzeug's threaded server in this process,
    or by gunicorn with two worker processes (tests/e2e/servers.py), on a free port."""
    if request.param == "gunicorn":
        from tests.e2e.servers import Gunicorn

        with Gunicorn(database_url) as gunicorn:
            yield f"http://127.0.0.1:{gunicorn.port}/api/v1"
        return
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/api/v1"
    httpd.shutdown()
    thread.join(10)


def fire_together(url: str, token: str, key: str, body: dict, n: int = 8) -> list[requests.Response]:
    barrier = threading.Barrier(n)

    def one(_: int) -> requests.Response:
        barrier.wait()
        return requests.post(url, json=body, timeout=60,
                             headers={"Authorization": f"Bearer {token}", HEADER: key})

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def assert_one_original(answers: list[requests.Response], status: int) -> dict:
    """Exactly one answer acted; every other is a replay of it or 'in progress'. Returns the original body."""
    originals = [a for a in answers if a.status_code == status and "Idempotent-Replayed" not in a.headers]
    assert len(originals) == 1, [(a.status_code, a.headers.get("Idempotent-Replayed"), a.text[:80]) for a in answers]
    body = originals[0].json()
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "idempotency_in_progress"
        else:
            assert answer.status_code == status and answer.json() == body
    return body


def test_concurrent_retries_act_once(server, make, officer, backend):
    make.shelter("PVPT", capacity=5)
    token = make.token(officer)
    db.session.remove()  # the server's threads have their own sessions; ours holds no transaction

    created = assert_one_original(fire_together(f"{server}/cases", token, "case-k", PROFILE), 201)
    assert count(Case) == 1

    placed = assert_one_original(fire_together(f"{server}/placements", token, "place-k",
                                               {"case_code": created["case_code"]}), 201)
    reserved = assert_one_original(fire_together(f"{server}/placements/{placed['id']}/reserve", token, "res-k",
                                                 {"shelter": "PVPT"}), 200)
    assert reserved["status"] == "reserved"
    assert count(Reservation) == 1
    # Once done, a late retry is a replay.
    late = requests.post(f"{server}/cases", json=PROFILE, timeout=30,
                         headers={"Authorization": f"Bearer {token}", HEADER: "case-k"})
    assert late.status_code == 201 and late.headers["Idempotent-Replayed"] == "true" and late.json() == created
