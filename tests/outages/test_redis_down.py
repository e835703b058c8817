"""Redis, the shared rate-limit store, goes away and comes back (a private redis-server on its own port that the
test stops and starts): sign-in and the API keep working on this process's limits, a `system` alert says so, and
the shared counters are used again once Redis answers.

The app runs in a child process: Flask-Limiter's extension object is one per process, and the pooled test apps
must keep their memory store. The test drives it line by line on its standard input."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from alerts.models import Alert
from extensions import db

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")

# One instance: `attempts N` signs in N times with a wrong password, `api` reads /api/v1/me; each answers a JSON line.
INSTANCE = """
import json, re, sys
from app import create_app
from config import TestConfig
config = TestConfig(sys.argv[1])
config.RATELIMIT_STORAGE_URI = sys.argv[2]
config.SAFEHAVEN_LOGIN_RATE_LIMIT = "5 per minute"
config.SAFEHAVEN_RATELIMIT_RECHECK_SECONDS = 0
client = create_app(config).test_client()
token = sys.argv[3]
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    if command == "attempts":
        answers = []
        for _ in range(int(arg)):
            page = client.get("/login").get_data(as_text=True)
            csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
            answers.append(client.post("/login", data={"username": "nobody", "password": "x" * 12,
                                                       "csrf_token": csrf}).status_code)
        print(json.dumps(answers), flush=True)
    elif command == "api":
        print(json.dumps([client.get("/api/v1/me", headers={"Authorization": "Bearer " + token}).status_code]),
              flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.port, self.folder, self.process = _free_port(), folder, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.stop()


class Instance:
    def __init__(self, database_url: str, store: str, token: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", INSTANCE, database_url, store, token], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)})

    def ask(self, command: str) -> list[int]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the instance died"
        return json.loads(line)

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _store_alerts() -> list[dict]:
    """The store's system alerts as plain values; the read's transaction ends at once (on SQLite every
    transaction takes the write lock, which the instance needs)."""
    db.session.rollback()
    found = [{"status": a.status, "severity": a.severity, "figures": dict(a.figures), "note": a.resolution_note}
             for a in db.session.scalars(select(Alert).where(Alert.kind == "system",
                                                             Alert.subject == "rate-limit-store"))]
    db.session.rollback()
    return found


@pytest.mark.skipif(REDIS_SERVER is None, reason="no redis-server on this machine")
def test_sign_in_and_the_api_survive_redis_going_away_and_share_limits_again_when_it_returns(
        app, database_url, make, private_redis):
    token = make.token(make.user("secretariat"))
    instance = Instance(database_url, private_redis.url, token)
    try:
        assert instance.ask("attempts 2") == [200, 200]
        assert private_redis.client().dbsize() > 0, "the attempts are counted in Redis"

        private_redis.stop()
        # No 500: the attempts are counted in this process, and the limit still holds here (5 a minute).
        assert instance.ask("attempts 6") == [200] * 5 + [429]
        assert instance.ask("api") == [200]
        [alert] = _store_alerts()
        assert alert["status"] == "open" and alert["severity"] == "warning"
        assert alert["figures"]["store"] == "redis" and str(private_redis.port) not in json.dumps(alert["figures"])

        private_redis.start()  # the same port, empty: whatever it counts now came after its return
        assert instance.ask("attempts 1") == [200]
        assert private_redis.client().dbsize() > 0, "shared counting resumed"
        [alert] = _store_alerts()
        assert alert["status"] == "resolved" and "answers again" in alert["note"]
    finally:
        instance.close()
