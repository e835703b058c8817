"""PostgreSQL restarted under write load (a private cluster made with initdb in a temporary folder, as the
`postgres` user since initdb refuses root, and restarted with `pg_ctl restart -m fast`, which ends every session).

Requests in flight and those that arrive while it is down answer 503 with the API's JSON error, never a 500 or
a traceback; the app's pool recovers without the app being restarted (pool_pre_ping); every case the clients were
told of (201) is there afterwards; `flask check` passes and /readyz is ready again. Bounded: about a minute."""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from config import TestConfig
from extensions import db
from shelters.models import Case
from tests.e2e.servers import CASE, Api, Gunicorn, dispose, free_port, run_check
from tests.fixtures.factories import Factory

pytestmark = pytest.mark.e2e

INITDB, PG_CTL = shutil.which("initdb"), shutil.which("pg_ctl")
WRITERS = 3


def _as_postgres(*command: str, timeout: float = 60) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class PrivateCluster:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="safehaven-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        os.chown(self.folder, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
        _as_postgres(INITDB, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, action: str, *extra: str) -> None:
        _as_postgres(PG_CTL, action, "-D", str(self.data), "-w", "-t", "30", "-l", str(self.folder / "log"),
                     "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", *extra)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "stop", "-D", str(self.data), "-m", "immediate"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster():
    if not (INITDB and PG_CTL and shutil.which("runuser")):
        pytest.skip("needs initdb, pg_ctl and runuser")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run initdb as")
    made = PrivateCluster()
    try:
        made.start()
        yield made
    finally:
        made.destroy()


@dataclass
class Outcome:
    acknowledged: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    after_restart: list[int] = field(default_factory=list)


def writer(port: int, token: str, stop: threading.Event, restarted: threading.Event, out: Outcome) -> None:
    api = Api(port, token, timeout=30)
    while not stop.is_set():
        status, answer = api.post("/cases", CASE)
        out.statuses.append(status)
        if restarted.is_set():
            out.after_restart.append(status)
        if status == 201:
            out.acknowledged.append(answer["case_code"])
        elif status == 503:
            assert answer["error"]["code"] == "service_unavailable"
            time.sleep(0.05)  # a client backs off a little, as Retry-After asks
    api.close()


def test_postgres_restarted_under_load_costs_503s_only_and_loses_nothing_acknowledged(cluster):
    app = create_app(TestConfig(cluster.url))
    with app.app_context():
        upgrade()
        make = Factory(db.session)
        tokens = [make.token(make.user("police")) for _ in range(WRITERS)]
    dispose(app)

    with Gunicorn(cluster.url) as server:
        stop, restarted = threading.Event(), threading.Event()
        outcomes = [Outcome() for _ in range(WRITERS)]
        threads = [threading.Thread(target=writer, args=(server.port, tokens[i], stop, restarted, outcomes[i]))
                   for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # load before the restart
        cluster.restart()
        restarted.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(o.after_restart.count(201) for o in outcomes) < 10:
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(60)

        statuses = [s for o in outcomes for s in o.statuses]
        assert set(statuses) <= {201, 503}, f"only created or unavailable, never {set(statuses) - {201, 503}}"
        assert 503 in statuses, "the restart was met (a request found the database away)"
        assert sum(o.after_restart.count(201) for o in outcomes) >= 10, "the pool recovered without a restart"
        assert "Traceback" not in server.output()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/readyz")
        assert conn.getresponse().status == 200
        conn.close()

    acknowledged = {code for o in outcomes for code in o.acknowledged}
    app = create_app(TestConfig(cluster.url))
    with app.app_context():
        stored = set(db.session.scalars(select(Case.code)))
    dispose(app)
    assert acknowledged <= stored, f"acknowledged but lost: {sorted(acknowledged - stored)[:5]}"
    code, output = run_check(cluster.url)
    assert code == 0, output
