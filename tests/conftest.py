"""Fixtures: an app on a fresh database per test, on SQLite always and on PostgreSQL too
when TEST_DATABASE_URL names one; clients for pages and the API; factories."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import text

import i18n
from accounts import services as account_services
from app import create_app
from config import TestConfig
from extensions import db
from tests.fixtures.factories import Factory

def pytest_sessionstart(session: pytest.Session) -> None:
    """The compiled catalogues follow the .po files, however the suite was started."""
    i18n.compile_all()


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
_pg_schema_ready = False


def _postgres_url() -> str:
    url = os.environ["TEST_DATABASE_URL"]
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def _reset_postgres(app: Flask) -> None:
    """Create the schema once per run, then empty every table before each test (far faster than DDL)."""
    global _pg_schema_ready
    with app.app_context():
        if not _pg_schema_ready:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.create_all()
            _pg_schema_ready = True
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path) -> str:  # noqa: ANN001
    if backend == "postgresql":
        return _postgres_url()
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app(database_url: str, backend: str, tmp_path) -> Iterator[Flask]:  # noqa: ANN001
    config = TestConfig(database_url)
    app = create_app(config)
    app.instance_path = str(tmp_path / "instance")
    if backend == "postgresql":
        _reset_postgres(app)
    else:
        with app.app_context():
            db.create_all()
    # The test keeps one app context, and so one `g`, across its requests; a browser's requests each
    # load their user afresh, which is what ends a session the server has ended, choose their language
    # afresh, and read their own session's CSRF token (a test may drive two browsers).
    def forget_request_state() -> None:
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        g.pop("csrf_token", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget_request_state)
    ctx = app.app_context()
    ctx.push()
    yield app
    db.session.remove()
    ctx.pop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its production cost takes a quarter second a hash; tests keep the algorithm, not the cost."""
    monkeypatch.setattr(account_services, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def make(app: Flask, now: datetime) -> Factory:
    return Factory(db.session, now)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # noqa: ANN201
    return app.test_cli_runner()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Pages:
    """Drive the HTML pages as a browser would: sign in, read the CSRF token, post forms."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = CSRF_META.search(page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = Factory.PASSWORD, *, code: str | None = None):  # noqa: ANN201
        """Sign in with the password; when the app then asks for a second factor and `code` is given
        (e.g. pyotp.TOTP(secret).now()), answer it too. Returns the last response."""
        token = self.csrf("/login")
        response = self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})
        if code is not None and response.status_code == 302 and response.headers["Location"].endswith(
                "/login/two-factor"):
            response = self.client.post("/login/two-factor",
                                        data={"code": code, "csrf_token": self.csrf("/login/two-factor")})
        return response

    def post(self, path: str, data: dict | None = None, *, from_page: str | None = None, **kwargs):  # noqa: ANN201
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.csrf(from_page or "/shelters"))
        return self.client.post(path, data=payload, **kwargs)


@pytest.fixture
def pages(client: FlaskClient) -> Pages:
    return Pages(client)


class ApiClient:
    """A JSON client that signs in with a bearer token."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client, self.token = client, token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **kw):  # noqa: ANN201
        return self.client.get("/api/v1" + path, headers=self._headers(), **kw)

    def post(self, path: str, json=None, **kw):  # noqa: ANN001, ANN201
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(), **kw)

    def patch(self, path: str, json=None, **kw):  # noqa: ANN001, ANN201
        return self.client.patch("/api/v1" + path, json=json, headers=self._headers(), **kw)


@pytest.fixture
def api_as(client: FlaskClient, make: Factory):  # noqa: ANN201
    """api_as(user) -> an API client holding a fresh token for that user."""

    def _api_as(user) -> ApiClient:  # noqa: ANN001
        return ApiClient(client, make.token(user))

    return _api_as
