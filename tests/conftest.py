"""Fixtures: an app on a fresh database per test, on SQLite always and on PostgreSQL too
when TEST_DATABASE_URL names one (one app per backend, handed to each test as new); clients for pages and
the API; factories."""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import text

import i18n
from accounts import services as account_services
from app import bind_keys, create_app
from config import TestConfig
from extensions import db, limiter
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


@pytest.fixture(scope="session")
def pool_folder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return tmp_path_factory.mktemp("pool")


@pytest.fixture
def database_url(backend: str, pool_folder) -> str:  # noqa: ANN001
    if backend == "postgresql":
        return _postgres_url()
    return f"sqlite:///{pool_folder / 'test.db'}"


@dataclass
class PooledApp:
    """One app per backend for the whole run: making an app (its routes and OpenAPI document) costs more than
    most tests. Each test gets it back as new: a fresh database, the configuration as made, its keys bound."""

    app: Flask
    config: dict
    template: Path | None  # SQLite: the empty schema, copied over the database before each test


_POOL: dict[str, PooledApp] = {}


def _pooled(backend: str, database_url: str, pool_folder: Path) -> PooledApp:
    if backend not in _POOL:
        app = create_app(TestConfig(database_url))

        # The test keeps one app context, and so one `g`, across its requests; a browser's requests each
        # load their user afresh, which is what ends a session the server has ended, choose their language
        # afresh, and read their own session's CSRF token (a test may drive two browsers).
        def forget_request_state() -> None:
            g.pop("_login_user", None)
            g.pop("_flask_babel", None)
            g.pop("csrf_token", None)

        app.before_request_funcs.setdefault(None, []).insert(0, forget_request_state)
        template = None
        if backend == "sqlite":
            with app.app_context():
                db.create_all()
                db.engine.dispose()
            template = pool_folder / "template.db"
            shutil.copyfile(pool_folder / "test.db", template)
        _POOL[backend] = PooledApp(app, copy.deepcopy(dict(app.config)), template)
    return _POOL[backend]


def _fresh_sqlite(pooled: PooledApp, database_url: str) -> None:
    path = Path(database_url.removeprefix("sqlite:///"))
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    assert pooled.template is not None
    shutil.copyfile(pooled.template, path)


@pytest.fixture
def app(database_url: str, backend: str, tmp_path, pool_folder) -> Iterator[Flask]:  # noqa: ANN001
    pooled = _pooled(backend, database_url, pool_folder)
    app = pooled.app
    app.instance_path = str(tmp_path / "instance")
    bind_keys(app)  # a test that made an app of its own may have bound other keys
    with app.app_context():
        db.engine.dispose()
    if backend == "postgresql":
        _reset_postgres(app)
    else:
        _fresh_sqlite(pooled, database_url)
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        limiter.reset()
        db.engine.dispose()
        ctx.pop()
        app.config.clear()
        app.config.update(copy.deepcopy(pooled.config))


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
