"""HTTP load on loopback: `python -m bench http [--quick] [--backends sqlite postgresql] [--seconds S]`.

For each backend (SQLite in WAL mode, PostgreSQL), the app runs under gunicorn with 2 sync workers on
127.0.0.1, and so does bench/bare_app.py (a bare Flask + SQLAlchemy app on the same database), one after
the other in the same run. A thread-pool client with 16 persistent connections drives each for a fixed
time per mix:

- read: `GET /api/v1/shelters` as the police (bare: `GET /shelters`, the same body from the same six
  statements as plain SQL, no sign-in, hooks or schema; also `GET /shelters/minimal`, seven columns and
  open stays' beds, the bare read this benchmark used before: `bare_min_rps`, `ratio_min`);
- write: admit a waiting case (`POST /api/v1/shelters/{code}/stays`) then discharge it
  (`POST /api/v1/stays/{id}/discharge`), each a request: bearer sign-in, role gate, schema, the shelter's
  write lock, the bed count, the stay, the case and one hash-chained audit event (bare: one insert);
- reserve_race: every connection opens a placement request and races for the last beds of the same 4
  shelters (`POST /api/v1/placements`, `/reserve`, and `/cancel` when it won) (bare: one insert).

Keys: backend, mix, connections, seconds, requests, rps, p50_ms, p99_ms, errors (5xx, unexpected status,
broken connections), conflicts (409: a lost race, expected), overbooked (shelters whose occupied + held
beds exceed usable, counted after the run), bare_rps, ratio (rps / bare_rps), and for reads bare_min_rps and
ratio_min (rps / bare_min_rps). Targets (against bare_rps): reads at least 50%
and writes at least 40% of bare; 0 errors; 0 overbooked.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, percentile, postgres_url, write_results
from bench.generate import bench_token, prepared

CONNECTIONS = 16
HOT_SHELTERS = 4
TARGETS = {"read": 0.5, "write": 0.4, "reserve_race": None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with 2 workers on 127.0.0.1, started and stopped by its own process id."""

    def __init__(self, app: str, database_url: str, workers: int = 2) -> None:
        self.port = free_port()
        env = os.environ | {"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret-key-not-for-production",
                            "SAFEHAVEN_TOTP_REQUIRED_ROLES": "", "SAFEHAVEN_SCHEDULER": "0",
                            # The benchmark measures throughput, not the API's per-token rate limit.
                            "SAFEHAVEN_API_RATE_LIMIT": "1000000 per minute",
                            "PYTHONPATH": str(ROOT)}
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
             "--log-level", "warning", app],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{app} exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{app} did not answer within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Client:
    """One persistent connection; `call` returns (status, JSON body or None), timing each request."""

    def __init__(self, port: int, token: str | None, record: list[float]) -> None:
        self.port, self.record = port, record
        self.headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            status, raw = 599, b""
        self.record.append((time.perf_counter() - started) * 1000)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def add_waiting_cases(database_url: str, count: int) -> list[str]:
    """`count` identified cases with no stay and no request (bulk insert), for the write and race mixes."""
    from sqlalchemy import func, select

    from bench.common import bench_app
    from bench.generate import _tables, bulk_insert
    from extensions import db

    app = bench_app(database_url)
    with app.app_context():
        cases = _tables()["cases"]
        with db.engine.begin() as conn:
            first = (conn.scalar(select(func.max(cases.c.id))) or 0) + 1
            today = datetime.now(UTC)
            rows = [{"id": first + i, "code": f"VOT-HT-{first + i:08d}", "sex": "female", "birth_year": 1995,
                     "nationality": "MD", "languages": ["ro"], "exploitation": ["sexual"], "needs": [], "children": 0,
                     "risk": "low", "trafficker_regions": [], "region": "Region A",
                     "identified_on": today.date(), "identified_by_org_id": 2, "created_by_id": None,
                     "status": "identified", "resolution": None, "created_at": today} for i in range(count)]
            bulk_insert(conn, cases, rows)
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('cases', 'id'), MAX(id)) FROM cases")
        db.engine.dispose()
    return [r["code"] for r in rows]


def shelters_with_room(database_url: str, beds: int) -> list[tuple[str, int]]:
    """Open shelters taking women adults with at least `beds` free beds: (code, free), most free first."""
    from bench.common import bench_app
    from database import utcnow
    from extensions import db
    from shelters import services

    app = bench_app(database_url)
    with app.app_context():
        views = services.list_shelters(db.session, utcnow())
        out = sorted(((v.shelter.code, v.available) for v in views
                      if v.shelter.status == "open" and "female" in v.shelter.sexes and v.shelter.ages != "minors"
                      and v.shelter.security == "standard" and v.available >= beds),
                     key=lambda item: (-item[1], item[0]))
        db.session.remove()
        db.engine.dispose()
    return out


def overbooked(database_url: str) -> int:
    """Shelters whose beds taken by open stays plus live holds exceed their usable beds."""
    from bench.common import bench_app
    from database import utcnow
    from extensions import db
    from shelters import services

    app = bench_app(database_url)
    with app.app_context():
        count = sum(1 for v in services.list_shelters(db.session, utcnow())
                    if v.occupancy.occupied + v.occupancy.reserved > v.shelter.usable
                    and v.occupancy.reserved > 0)
        db.session.remove()
        db.engine.dispose()
    return count


def drive(port: int, seconds: float, worker: Any, connections: int = CONNECTIONS) -> dict[str, Any]:
    """Run `worker(client, index, stop, tally)` on `connections` threads for `seconds`; gather figures."""
    timings: list[list[float]] = [[] for _ in range(connections)]
    tallies = [{"errors": 0, "conflicts": 0} for _ in range(connections)]
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(port, i, stop, timings[i], tallies[i]), daemon=True)
               for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(90)
    elapsed = time.perf_counter() - started
    samples = [x for each in timings for x in each]
    return {"connections": connections, "seconds": round(elapsed, 2), "requests": len(samples),
            "rps": round(len(samples) / elapsed, 1), "p50_ms": round(percentile(samples, 50), 1),
            "p99_ms": round(percentile(samples, 99), 1),
            "errors": sum(t["errors"] for t in tallies), "conflicts": sum(t["conflicts"] for t in tallies)}


def read_worker(path: str, token: str | None):  # noqa: ANN201
    def work(port: int, i: int, stop: threading.Event, record: list[float], tally: dict[str, int]) -> None:
        client = Client(port, token, record)
        while not stop.is_set():
            status, _ = client.call("GET", path)
            if status != 200:
                tally["errors"] += 1
    return work


def bare_write_worker(port: int, i: int, stop: threading.Event, record: list[float], tally: dict[str, int]) -> None:
    client = Client(port, None, record)
    while not stop.is_set():
        status, _ = client.call("POST", "/write", {})
        if status != 201:
            tally["errors"] += 1


def write_worker(cases: list[str], shelters: list[str]):  # noqa: ANN201
    """Each connection admits its own case into its own shelter and discharges it, over and over."""
    token = bench_token("secretariat")

    def work(port: int, i: int, stop: threading.Event, record: list[float], tally: dict[str, int]) -> None:
        client = Client(port, token, record)
        case, shelter = cases[i], shelters[i % len(shelters)]
        while not stop.is_set():
            status, body = client.call("POST", f"/api/v1/shelters/{shelter}/stays", {"case_code": case})
            if status == 409:
                tally["conflicts"] += 1
                continue
            if status != 201:
                tally["errors"] += 1
                continue
            status, _ = client.call("POST", f"/api/v1/stays/{body['stay_id']}/discharge", {"reason": "transferred"})
            if status != 200:
                tally["errors"] += 1
    return work


def race_worker(cases: list[str], hot: list[str]):  # noqa: ANN201
    """Each connection opens a request for a fresh case and races the others for a bed at the hot shelters;
    the winner cancels, freeing the bed for the next round."""
    token = bench_token("secretariat")
    lock = threading.Lock()
    pool = iter(cases)

    def work(port: int, i: int, stop: threading.Event, record: list[float], tally: dict[str, int]) -> None:
        client = Client(port, token, record)
        while not stop.is_set():
            with lock:
                case = next(pool, None)
            if case is None:
                return
            status, body = client.call("POST", "/api/v1/placements", {"case_code": case, "urgency": "urgent"})
            if status != 201:
                tally["errors"] += 1
                continue
            request_id = body["id"]
            for shelter in hot:
                status, _ = client.call("POST", f"/api/v1/placements/{request_id}/reserve", {"shelter": shelter})
                if status == 200:
                    break
                if status == 409:
                    tally["conflicts"] += 1
                else:
                    tally["errors"] += 1
            status, _ = client.call("POST", f"/api/v1/placements/{request_id}/cancel", {})
            if status != 200:
                tally["errors"] += 1
    return work


def run_backend(backend: str, shelters: int, days: int, seconds: float) -> list[dict[str, Any]]:
    if backend == "sqlite":
        url = prepared(shelters, days, 1)
    else:
        url = prepared(shelters, days, 1, postgres_url())
    cases = add_waiting_cases(url, 6000)
    roomy = [code for code, _ in shelters_with_room(url, 2)]
    # The race: the hot shelters keep exactly 1 free bed each (filled up by holds already there).
    hot = [code for code, free in shelters_with_room(url, 1) if free == 1][:HOT_SHELTERS] or roomy[-HOT_SHELTERS:]
    records = []
    bare = Server("bench.bare_app:create_app()", url)
    try:
        bare_read = drive(bare.port, seconds, read_worker("/shelters", None))
        bare_min_read = drive(bare.port, seconds, read_worker("/shelters/minimal", None))
        bare_write = drive(bare.port, seconds, bare_write_worker)
    finally:
        bare.stop()
    ours = Server("app:create_app()", url)
    try:
        read = drive(ours.port, seconds, read_worker("/api/v1/shelters", bench_token("police")))
        write = drive(ours.port, seconds, write_worker(cases[:CONNECTIONS], [c for c in roomy if c not in hot]))
        race = drive(ours.port, seconds, race_worker(cases[CONNECTIONS:], hot))
    finally:
        ours.stop()
    over = overbooked(url)
    for mix, figures, bare_figures in (("read", read, bare_read), ("write", write, bare_write),
                                       ("reserve_race", race, bare_write)):
        ratio = round(figures["rps"] / bare_figures["rps"], 3) if bare_figures["rps"] else None
        target = TARGETS[mix]
        minimal = {}
        if mix == "read":
            minimal = {"bare_min_rps": bare_min_read["rps"], "bare_min_errors": bare_min_read["errors"],
                       "ratio_min": round(figures["rps"] / bare_min_read["rps"], 3) if bare_min_read["rps"] else None}
        records.append({"backend": backend, "mix": mix, "shelters": shelters, **figures, "overbooked": over,
                        "bare_rps": bare_figures["rps"], "bare_p50_ms": bare_figures["p50_ms"],
                        "bare_errors": bare_figures["errors"], **minimal, "ratio": ratio, "target_ratio": target,
                        "met": (ratio >= target and figures["errors"] == 0 and over == 0) if target else
                        (figures["errors"] == 0 and over == 0)})
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench http", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--shelters", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=6.0, help="per mix and server")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.backends, args.shelters, args.days, args.seconds = ["sqlite"], 20, 30, 1.0
    records = []
    for backend in args.backends:
        if backend == "postgresql":
            try:
                from bench.common import ensure_database

                ensure_database(postgres_url())
            except Exception as exc:  # noqa: BLE001 - no server is a reason to skip, said aloud
                print(f"# http: PostgreSQL skipped ({type(exc).__name__}: {str(exc)[:200]})", file=sys.stderr)
                continue
        for record in run_backend(backend, args.shelters, args.days, args.seconds):
            records.append(emit(record))
    if not args.quick or args.output:
        write_results("http", records, vars(args), Path(args.output) if args.output else None)
    return 0

