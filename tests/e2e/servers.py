"""Drive the app as deployed: gunicorn (2 sync workers) on a free loopback port, over a database the test
prepares, with stdlib HTTP clients that speak the JSON API with bearer tokens.

- `database_urls(tmp_path)`: a SQLite file (WAL) always, and PostgreSQL when TEST_DATABASE_URL names one;
- `fresh_app(url)`: an app on that database with an empty schema (PostgreSQL: emptied as tests/conftest.py
  does), for seeding and for reading the outcome;
- `Gunicorn(url)`: start, wait for /health and both workers, `stop()` or `kill()` master and workers at once
  (SIGKILL to the process group: nothing gets to clean up, as in a crash or the OOM killer); as a context
  manager it kills on exit;
- `Api(port, token)`: one persistent connection; `post`/`get` return (status, JSON or None), and status 0
  when the connection broke before an answer arrived (the write is then unacknowledged).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from flask import Flask

from app import create_app
from config import TEST_AUDIT_KEY, TEST_ENCRYPTION_KEY, TestConfig
from extensions import db

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "e2e-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_urls(tmp_path: Path) -> dict[str, str]:
    """backend name -> URL: SQLite always, PostgreSQL when TEST_DATABASE_URL is set."""
    urls = {"sqlite": f"sqlite:///{tmp_path / 'server.db'}"}
    if os.environ.get("TEST_DATABASE_URL"):
        from tests.conftest import _postgres_url

        urls["postgresql"] = _postgres_url()
    return urls


def fresh_app(url: str, *, empty: bool = True) -> Flask:
    """An app on `url`; with `empty`, the schema is created (SQLite) or every table emptied (PostgreSQL)."""
    app = create_app(TestConfig(url))
    if empty:
        if url.startswith("postgresql"):
            from tests.conftest import _reset_postgres

            _reset_postgres(app)
        else:
            with app.app_context():
                db.create_all()
    return app


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Gunicorn:
    """`gunicorn -w 2 'app:create_app()'` on 127.0.0.1, in its own process group."""

    def __init__(self, database_url: str, workers: int = 2, *, preload: bool = True) -> None:
        self.database_url, self.workers = database_url, workers
        # --preload: the master imports the app once and forks the workers, so a start costs one import
        # (seconds on 2 busy cores) instead of one per worker. The workers still open their own connections.
        self.extra = ["--preload"] if preload else []
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self, timeout: float = 60) -> None:
        self.port = free_port()
        env = os.environ | {
            "DATABASE_URL": self.database_url, "SECRET_KEY": SECRET_KEY,
            "SAFEHAVEN_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY, "SAFEHAVEN_AUDIT_KEYS": TEST_AUDIT_KEY,
            "SAFEHAVEN_TOTP_REQUIRED_ROLES": "",
            "SAFEHAVEN_SCHEDULER": "0", "PYTHONPATH": str(ROOT),
            # Load and crash drills hammer the API with a few tokens; the limit itself is tests/test_rate_limits.py's.
            "SAFEHAVEN_API_RATE_LIMIT": "1000000 per minute",
        }
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        # A file, not a pipe: a pipe nobody reads would block the server once its buffer filled.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open while the server runs, closed with it
        self.process = subprocess.Popen(
            [gunicorn, "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
             "--graceful-timeout", "5", "--log-level", "warning", *self.extra, "app:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.output()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok and self._workers_up():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s")

    def output(self) -> str:
        """What the server wrote to its standard error so far (warnings, tracebacks of 500s)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def _workers_up(self) -> bool:
        """Both workers booted (a load that starts earlier would all land on the first)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return len(children.read_text().split()) >= self.workers
        except OSError:
            return True  # no /proc: /health answering is enough

    def kill(self) -> None:
        """SIGKILL the master and every worker at once."""
        if self.process is None or self.process.returncode is not None:
            return  # never started, or killed and reaped already: its group id may belong to another now
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        """Stop (SIGINT to the master: it stops its workers and exits), then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # quick shutdown: no request is in flight by now
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        # The tests read the database once the load is over, so how the server ends does not matter (the
        # crash test shows a SIGKILL loses nothing) and a graceful stop costs seconds of worker teardown.
        self.kill()


class Api:
    """One persistent HTTP/1.1 connection to /api/v1 with a bearer token."""

    def __init__(self, port: int, token: str, timeout: float = 60) -> None:
        self.port, self.timeout = port, timeout
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON body or None); (0, None) when the connection broke before an answer."""
        try:
            self.conn.request(method, "/api/v1" + path, body=None if body is None else json.dumps(body),
                              headers=self.headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            return 0, None
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call("POST", path, body if body is not None else {})

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)

    def close(self) -> None:
        self.conn.close()


def run_check(url: str) -> tuple[int, str]:
    """`flask check` on the database at `url`: (exit code, output)."""
    app = fresh_app(url, empty=False)
    try:
        result = app.test_cli_runner().invoke(args=["check"])
    finally:
        dispose(app)
    return result.exit_code, result.output


def seed(url: str, shelters: dict[str, int], police: int = 1) -> dict[str, Any]:
    """An empty database with `shelters` (code -> capacity; women, adults), a secretariat user, one manager of
    every shelter and `police` officers; returns their API tokens."""
    from tests.fixtures.factories import Factory

    app = fresh_app(url)
    try:
        with app.app_context():
            make = Factory(db.session)
            made = [make.shelter(code, capacity=capacity) for code, capacity in shelters.items()]
            return {"secretariat": make.token(make.user("secretariat")), "manager": make.token(make.manager(*made)),
                    "police": [make.token(make.user("police")) for _ in range(police)]}
    finally:
        dispose(app)


CASE = {"sex": "female", "age": 27, "nationality": "MD", "languages": ["ro"]}
