"""Concurrent clients against gunicorn (2 workers), on SQLite (WAL) and on PostgreSQL when
TEST_DATABASE_URL is set: secretariat clients create cases and admit and discharge them into two small
shelters, and police officers race, round after round, for the one bed of a third. Afterwards:

- `flask check` finds nothing (no second open stay, no overbooked shelter, holds and requests agree,
  every write audited, the chain intact);
- no shelter has more beds taken than it has, and every race for the last bed had exactly one winner;
- every 2xx answer's effect is in the database, and no refused (409) admission or reservation left any.

SAFEHAVEN_LOAD_SECONDS (default 2) sets how long the load runs on each database.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from database import utcnow
from extensions import db
from placement.models import PlacementRequest
from shelters import figures
from shelters.models import Case, Shelter, Stay
from tests.e2e.servers import CASE, Api, Gunicorn, database_urls, dispose, fresh_app, run_check, seed

pytestmark = pytest.mark.e2e

LOAD_SECONDS = float(os.environ.get("SAFEHAVEN_LOAD_SECONDS", "2"))
WARDS = {"WARD1": 2, "WARD2": 1}  # fewer beds than churners: admissions race for them
CHURNERS = 4
RACERS = 6


@dataclass
class Ledger:
    """What the server acknowledged (and refused), written by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    cases: set[str] = field(default_factory=set)
    refused_cases: set[str] = field(default_factory=set)     # admission answered 409: no stay may exist
    stays: dict[int, tuple[str, str]] = field(default_factory=dict)  # stay id -> (case code, shelter)
    discharged: set[int] = field(default_factory=set)
    requests: dict[int, str] = field(default_factory=dict)   # request id -> the last acknowledged status
    rounds: list[list[int]] = field(default_factory=list)    # statuses of each race for the last bed
    unexpected: list[str] = field(default_factory=list)

    def note(self, what: str, status: int, body: object) -> None:
        with self.lock:
            self.unexpected.append(f"{what}: {status} {body}")

    def guarded(self, target, *args):
        """A thread body whose exception is recorded, not lost on stderr."""
        def run() -> None:
            try:
                target(*args)
            except Exception as error:  # noqa: BLE001 - reported by the test's assertion
                self.note(f"{getattr(target, '__name__', target)} raised", 0, repr(error))
        return run


def churn(port: int, token: str, stop: threading.Event, ledger: Ledger, seed_: int) -> None:
    """Create cases, admit them into a random ward (409 when full), discharge about half of them."""
    api, rng, mine = Api(port, token), random.Random(seed_), []
    while not stop.is_set():
        status, body = api.post("/cases", CASE)
        if status != 201:
            ledger.note("create case", status, body)
            continue
        code = body["case_code"]
        with ledger.lock:
            ledger.cases.add(code)
        ward = rng.choice(list(WARDS))
        status, body = api.post(f"/shelters/{ward}/stays", {"case_code": code})
        if status == 201:
            with ledger.lock:
                ledger.stays[body["stay_id"]] = (code, ward)
            mine.append(body["stay_id"])
        elif status == 409:
            with ledger.lock:
                ledger.refused_cases.add(code)
        else:
            ledger.note("admit", status, body)
        if mine and (len(mine) > 1 or rng.random() < 0.5):
            stay_id = mine.pop(rng.randrange(len(mine)))
            status, body = api.post(f"/stays/{stay_id}/discharge", {"reason": "reintegrated"})
            if status == 200:
                with ledger.lock:
                    ledger.discharged.add(stay_id)
            else:
                ledger.note("discharge", status, body)
    api.close()


class Race:
    """Rounds in which every racer opens a request and all reserve the last bed at once; the winner then
    frees it again (cancels, or is accepted, admitted and discharged, in turn)."""

    def __init__(self, port: int, tokens: dict, stop: threading.Event, ledger: Ledger) -> None:
        self.port, self.tokens, self.stop, self.ledger = port, tokens, stop, ledger
        self.go_on = True
        self.barrier = threading.Barrier(RACERS, action=self._decide)
        self.results: dict[int, int] = {}
        self.round = 0

    def _decide(self) -> None:
        """Runs once per barrier crossing: close the round just raced, decide whether another starts."""
        self.go_on = not self.stop.is_set()

    def racer(self, index: int) -> None:
        try:
            self._race(index)
        except BaseException:
            self.barrier.abort()  # the other racers stop at once instead of waiting for this one
            raise

    def _race(self, index: int) -> None:
        police = Api(self.port, self.tokens["police"][index])
        manager, secretariat = Api(self.port, self.tokens["manager"]), Api(self.port, self.tokens["secretariat"])
        ledger, turn = self.ledger, 0
        while True:
            self.barrier.wait(60)
            if not self.go_on:
                break
            status, body = police.post("/cases", CASE)
            code = body["case_code"] if status == 201 else None
            status, body = police.post("/placements", {"case_code": code, "urgency": "urgent"})
            request_id = body["id"] if status == 201 else None
            if request_id is None:
                ledger.note("open request", status, body)
            else:
                with ledger.lock:
                    ledger.cases.add(code)
                    ledger.requests[request_id] = "open"
            self.barrier.wait(60)  # everyone holds an open request: reserve all at once
            status, body = police.post(f"/placements/{request_id}/reserve", {"shelter": "LAST"}) \
                if request_id is not None else (0, None)
            with ledger.lock:
                self.results[index] = status
                if status == 200:
                    ledger.requests[request_id] = "reserved"
                elif status != 409:
                    ledger.note("reserve", status, body)
            self.barrier.wait(60)
            if index == 0:
                with ledger.lock:
                    ledger.rounds.append(sorted(self.results.values()))
                    self.results.clear()
            if status == 200:
                turn += 1
                self._free(police, manager, secretariat, request_id, turn)
            self.barrier.wait(60)  # the bed is free again before the next round
        for api in (police, manager, secretariat):
            api.close()

    def _free(self, police: Api, manager: Api, secretariat: Api, request_id: int, turn: int) -> None:
        ledger = self.ledger
        if turn % 2:
            status, body = police.post(f"/placements/{request_id}/cancel", {})
            if status == 200:
                with ledger.lock:
                    ledger.requests[request_id] = "cancelled"
            else:
                ledger.note("cancel", status, body)
            return
        for action in ("accept", "admit"):
            status, body = manager.post(f"/placements/{request_id}/{action}")
            if status != 200:
                ledger.note(action, status, body)
                return
            with ledger.lock:
                ledger.requests[request_id] = body["status"]
        stay_id = body["stay_id"]
        with ledger.lock:
            ledger.stays[stay_id] = (body["case_code"], "LAST")
        status, body = secretariat.post(f"/stays/{stay_id}/discharge", {"reason": "repatriated"})
        if status == 200:
            with ledger.lock:
                ledger.discharged.add(stay_id)
        else:
            ledger.note("discharge placed", status, body)


def test_concurrent_writes_through_gunicorn_keep_every_invariant(backend, tmp_path):
    url = database_urls(tmp_path)[backend]
    tokens = seed(url, {"LAST": 1, **WARDS}, police=RACERS)
    ledger, stop = Ledger(), threading.Event()
    with Gunicorn(url) as server:
        race = Race(server.port, tokens, stop, ledger)
        threads = [threading.Thread(target=ledger.guarded(churn, server.port, tokens["secretariat"], stop, ledger, i))
                   for i in range(CHURNERS)]
        threads += [threading.Thread(target=ledger.guarded(race.racer, i)) for i in range(RACERS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        stop.wait(LOAD_SECONDS)
        stop.set()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a client hung"
        elapsed = time.monotonic() - started
        server_log = server.output()

    assert ledger.unexpected == [], server_log[-3000:]
    # Every race for the last bed: exactly one 200, every other racer 409.
    assert ledger.rounds, "no race was run"
    assert all(r == [200] + [409] * (RACERS - 1) for r in ledger.rounds), ledger.rounds
    assert ledger.refused_cases, "the wards never filled up: no admission raced for a bed"

    code, output = run_check(url)
    assert code == 0, output

    app = fresh_app(url, empty=False)
    try:
        with app.app_context():
            s = db.session
            occupancy = figures.occupancy(s, utcnow())
            for shelter in s.scalars(select(Shelter)):
                occ = occupancy.get(shelter.id, figures.Occupancy())
                assert occ.occupied + occ.reserved <= shelter.usable, f"{shelter.code} double-booked: {occ}"
            codes = set(s.scalars(select(Case.code)))
            assert ledger.cases <= codes
            stays = {stay.id: stay for stay in s.scalars(select(Stay))}
            for stay_id, (case_code, shelter_code) in ledger.stays.items():
                stay = stays[stay_id]
                assert (stay.case.code, stay.shelter.code) == (case_code, shelter_code)
                assert (stay.discharged_at is not None) == (stay_id in ledger.discharged), stay_id
            # Stays the clients were not told of do not exist (every admission here answered).
            assert set(stays) == set(ledger.stays)
            staying = {stay.case.code for stay in stays.values()}
            assert not ledger.refused_cases & staying
            statuses = dict(s.execute(select(PlacementRequest.id, PlacementRequest.status)).all())
            assert statuses == ledger.requests
    finally:
        dispose(app)
    print(f"\n{backend}: {len(ledger.cases)} cases, {len(ledger.stays)} stays, {len(ledger.refused_cases)} "
          f"admissions refused, {len(ledger.rounds)} races for the last bed in {elapsed:.1f} s")
