"""Settings from the environment.

`Config` is read when an app is created, never at import time: each instance
reads `os.environ` afresh, so tests and several app instances can differ.
Settings of our own use the prefix SAFEHAVEN_ (for example
SAFEHAVEN_RESERVATION_HOLD_MINUTES=120); the conventional names DATABASE_URL,
SECRET_KEY and REDIS_URL are read as they are.
"""

from __future__ import annotations

import os
from typing import Any

PREFIX = "SAFEHAVEN_"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(PREFIX + name)
    return default if raw in (None, "") else int(raw)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(PREFIX + name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Production-shaped defaults; every value can be overridden from the environment."""

    def __init__(self) -> None:
        env = os.environ
        # None means "a SQLite file in the instance folder", resolved by create_app.
        self.SQLALCHEMY_DATABASE_URI: str | None = env.get("DATABASE_URL") or None
        self.SECRET_KEY: str | None = env.get("SECRET_KEY") or None
        self.REDIS_URL: str | None = env.get("REDIS_URL") or None
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}

        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Strict"
        self.SESSION_COOKIE_SECURE = _bool("HTTPS", False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Strict"
        self.WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token
        self.MAX_CONTENT_LENGTH = 1024 * 1024

        self.SAFEHAVEN_LOAD_DEMO = _bool("LOAD_DEMO", False)
        self.SAFEHAVEN_PASSWORD_MIN_LENGTH = _int("PASSWORD_MIN_LENGTH", 12)
        self.SAFEHAVEN_TOKEN_DAYS = _int("TOKEN_DAYS", 90)
        self.SAFEHAVEN_RESERVATION_HOLD_MINUTES = _int("RESERVATION_HOLD_MINUTES", 120)

        # flask-smorest: the OpenAPI document is generated from the API schemas.
        self.API_TITLE = "Safe Haven"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"


class TestConfig(Config):
    """A fresh database per test: SQLite in memory unless the test passes its own URL."""

    __test__ = False  # not a pytest test class

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "test-secret-key-not-for-production"
        self.SQLALCHEMY_DATABASE_URI = database_url or "sqlite://"
        self.WTF_CSRF_ENABLED = True
        self.SAFEHAVEN_LOAD_DEMO = False
