"""A crash under write load: gunicorn (master and both workers) is SIGKILLed while clients create cases and
admit and discharge them through the API; then it is started again on the same database (SQLite in WAL
mode, PostgreSQL when TEST_DATABASE_URL is set).

Every write the clients were told of (2xx) must be there. A write cut off by the kill may be there or
not, but never in half:
- a case creation: the case and its `case.create` audit event, or neither;
- an admission: the stay, the case marked `placed` and the `stay.admit` audit event, or none of them;
- a discharge: the discharge time and reason, the case marked `discharged` and the `stay.discharge` audit
  event, or none of them.
`flask check` must pass (it holds these for every record, acknowledged or not), and the restarted server
must take writes at once (no lock left behind by a killed worker).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from accounts.models import AuditEvent
from extensions import db
from shelters.models import Case, Stay
from tests.e2e.servers import CASE, Api, Gunicorn, database_urls, dispose, fresh_app, run_check, seed

pytestmark = pytest.mark.e2e

WRITERS = 4
LOAD_SECONDS = 1.0  # of writes before the kill
SHELTERS = {"ROOMY1": 500, "ROOMY2": 500}


@dataclass
class Outcome:
    """Per writer: what was acknowledged, and the write in flight when the server died (if any)."""

    cases: list[str] = field(default_factory=list)
    stays: dict[int, tuple[str, str]] = field(default_factory=dict)     # stay id -> (case code, shelter)
    discharged: set[int] = field(default_factory=set)
    cut: tuple[str, object] | None = None    # ("create", None) | ("admit", case code) | ("discharge", stay id)
    unexpected: list[str] = field(default_factory=list)


def writer(port: int, token: str, stop: threading.Event, out: Outcome, seed_: int) -> None:
    api, rng, open_stays = Api(port, token, timeout=30), random.Random(seed_), []

    def call(op: str, subject: object, path: str, body: dict, ok: int) -> dict | None:
        status, answer = api.post(path, body)
        if status == ok:
            return answer
        if status == 0:
            out.cut = (op, subject)
            stop.set()
        else:
            out.unexpected.append(f"{op} {subject}: {status} {answer}")
        return None

    while not stop.is_set():
        created = call("create", None, "/cases", CASE, 201)
        if created is None:
            break
        code = created["case_code"]
        out.cases.append(code)
        shelter = rng.choice(list(SHELTERS))
        admitted = call("admit", code, f"/shelters/{shelter}/stays", {"case_code": code}, 201)
        if admitted is None:
            break
        out.stays[admitted["stay_id"]] = (code, shelter)
        open_stays.append(admitted["stay_id"])
        if rng.random() < 0.6:
            stay_id = open_stays.pop(rng.randrange(len(open_stays)))
            if call("discharge", stay_id, f"/stays/{stay_id}/discharge", {"reason": "reintegrated"}, 200) is None:
                break
            out.discharged.add(stay_id)
    api.close()


def test_a_killed_server_loses_no_acknowledged_write_and_leaves_none_in_half(backend, tmp_path):
    url = database_urls(tmp_path)[backend]
    tokens = seed(url, SHELTERS)
    server = Gunicorn(url)
    try:
        stop = threading.Event()
        outcomes = [Outcome() for _ in range(WRITERS)]
        threads = [threading.Thread(target=writer, args=(server.port, tokens["secretariat"], stop, outcomes[i], i))
                   for i in range(WRITERS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        server.kill()  # master and workers, mid-request
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "a client hung"
        assert [o.unexpected for o in outcomes] == [[]] * WRITERS
        cut = [o.cut for o in outcomes if o.cut is not None]
        assert cut, "the kill cut no write short"

        server.start()  # the same database, as after a reboot
        api = Api(server.port, tokens["secretariat"])
        status, created = api.post("/cases", CASE)
        assert status == 201, created
        status, admitted = api.post("/shelters/ROOMY1/stays", {"case_code": created["case_code"]})
        assert status == 201, admitted
        status, body = api.post(f"/stays/{admitted['stay_id']}/discharge", {"reason": "other", "note": "test"})
        assert status == 200, body
        api.close()
    finally:
        server.kill()

    code, output = run_check(url)
    assert code == 0, output

    app = fresh_app(url, empty=False)
    try:
        with app.app_context():
            s = db.session
            cases = {c.code: c for c in s.scalars(select(Case))}
            stays = {stay.id: stay for stay in s.scalars(select(Stay))}
            audited = {(action, detail.get("stay")) for action, detail in s.execute(
                select(AuditEvent.action, AuditEvent.detail).where(
                    AuditEvent.action.in_(["stay.admit", "stay.discharge"])))}
            created_audited = set(s.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "case.create")))
            for out in outcomes:
                for code in out.cases:  # acknowledged creations
                    assert code in cases and code in created_audited
                for stay_id, (code, shelter) in out.stays.items():  # acknowledged admissions
                    stay = stays[stay_id]
                    assert (stay.case.code, stay.shelter.code) == (code, shelter)
                    assert ("stay.admit", stay_id) in audited
                for stay_id in out.discharged:  # acknowledged discharges
                    assert stays[stay_id].discharged_at is not None
                    assert stays[stay_id].case.status == "discharged"
                    assert ("stay.discharge", stay_id) in audited
                if out.cut is None:
                    continue
                op, subject = out.cut
                if op == "admit":  # all of the admission or none of it
                    case_stays = [stay for stay in stays.values() if stay.case.code == subject]
                    if case_stays:
                        (stay,) = case_stays
                        assert stay.discharged_at is None and cases[subject].status == "placed"
                        assert ("stay.admit", stay.id) in audited
                    else:
                        assert cases[subject].status == "identified"
                elif op == "discharge":  # all of the discharge or none of it
                    stay = stays[subject]
                    done = stay.discharged_at is not None
                    assert done == (stay.discharge_reason is not None)
                    assert done == (stay.case.status == "discharged")
                    assert done == (("stay.discharge", subject) in audited)
            # Creations cut short: a case the client never heard of is whole (audited) or absent.
            told = {code for out in outcomes for code in out.cases}
            unheard = set(cases) - told - {created["case_code"]}
            assert len(unheard) <= sum(1 for c in cut if c[0] == "create")
            assert unheard <= created_audited
    finally:
        dispose(app)
    print(f"\n{backend}: killed with {len(cut)} writes in flight ({', '.join(c[0] for c in cut)}); "
          f"{sum(len(o.stays) for o in outcomes)} admissions and {sum(len(o.discharged) for o in outcomes)} "
          "discharges acknowledged before it, all present")
