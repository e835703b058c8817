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
# A fixed Fernet key for tests only, so their encrypted values are reproducible.
TEST_ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS1ub3QtZm9yLXByb2Q="
# A fixed audit key for tests only, so their audit chains are reproducible.
TEST_AUDIT_KEY = "test-audit-key-not-for-production-0123456789"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(PREFIX + name)
    return default if raw in (None, "") else int(raw)


def _float(name: str, default: float) -> float:
    raw = os.environ.get(PREFIX + name)
    return default if raw in (None, "") else float(raw)


def _list(name: str) -> list[str]:
    """A comma-separated setting as a list, blanks dropped."""
    return [item.strip() for item in os.environ.get(PREFIX + name, "").split(",") if item.strip()]


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
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        # Behind HTTPS: Secure cookies and a Strict-Transport-Security header.
        self.SAFEHAVEN_HTTPS = self.SESSION_COOKIE_SECURE

        # Sign-in security (see docs/security.md).
        self.SAFEHAVEN_TOTP_REQUIRED_ROLES = env.get(PREFIX + "TOTP_REQUIRED_ROLES", "admin,secretariat,police")
        self.SAFEHAVEN_LOGIN_RATE_LIMIT = env.get(PREFIX + "LOGIN_RATE_LIMIT") or "10 per minute"
        # API requests per token; refused tokens per address are held to the sign-in limit above (rest.py).
        self.SAFEHAVEN_API_RATE_LIMIT = env.get(PREFIX + "API_RATE_LIMIT") or "600 per minute"
        self.SAFEHAVEN_LOCKOUT_FAILURES = _int("LOCKOUT_FAILURES", 5)
        self.SAFEHAVEN_LOCKOUT_MINUTES = _int("LOCKOUT_MINUTES", 15)
        self.SAFEHAVEN_SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 15)
        self.SAFEHAVEN_SESSION_MAX_HOURS = _int("SESSION_MAX_HOURS", 12)
        self.SAFEHAVEN_REAUTH_MINUTES = _int("REAUTH_MINUTES", 5)
        self.PERMANENT_SESSION_LIFETIME = self.SAFEHAVEN_SESSION_MAX_HOURS * 3600
        # Flask-Limiter: shared counters in Redis when there is one, else this process's memory.
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = False  # rest.rate_limit_headers writes them (RateLimit-*, Retry-After)
        # Redis away: count in this process's memory rather than fail sign-ins (outages.py raises a system alert),
        # and ask Redis again every SAFEHAVEN_RATELIMIT_RECHECK_SECONDS; a dead Redis costs a request 1 s at most.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
        self.SAFEHAVEN_RATELIMIT_RECHECK_SECONDS = _int("RATELIMIT_RECHECK_SECONDS", 10)
        self.WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token
        self.MAX_CONTENT_LENGTH = 1024 * 1024

        # Data minimisation (see docs/security.md): Fernet keys of encrypted columns, newest first
        # (comma-separated); none set: one generated into instance/encryption_key. Closed cases are
        # anonymised this many years after their last activity.
        self.SAFEHAVEN_ENCRYPTION_KEYS: list[str] = _list("ENCRYPTION_KEYS")
        self.SAFEHAVEN_RETENTION_YEARS = _int("RETENTION_YEARS", 5)
        # The audit chain (accounts/audit.py): HMAC keys, newest first (comma-separated); none set: one
        # generated into instance/audit_key. Anchors of the chain's head: an append-only file outside the
        # database (None: instance/audit-anchors.log, resolved where it is used).
        self.SAFEHAVEN_AUDIT_KEYS: list[str] = _list("AUDIT_KEYS")
        self.SAFEHAVEN_AUDIT_ANCHOR_PATH: str | None = env.get(PREFIX + "AUDIT_ANCHOR_PATH") or None
        # API POSTs with an Idempotency-Key: how long the answer is kept for retries (idempotency.py).
        self.SAFEHAVEN_IDEMPOTENCY_HOURS = _int("IDEMPOTENCY_HOURS", 24)

        # The interface language when neither the user nor the browser names one of sq, sr, en.
        self.SAFEHAVEN_DEFAULT_LANGUAGE = env.get(PREFIX + "DEFAULT_LANGUAGE") or "en"

        self.SAFEHAVEN_LOAD_DEMO = _bool("LOAD_DEMO", False)
        self.SAFEHAVEN_PASSWORD_MIN_LENGTH = _int("PASSWORD_MIN_LENGTH", 12)
        self.SAFEHAVEN_TOKEN_DAYS = _int("TOKEN_DAYS", 90)
        self.SAFEHAVEN_RESERVATION_HOLD_MINUTES = _int("RESERVATION_HOLD_MINUTES", 120)
        # Placement engine: points for each soft term (see placement/engine.py).
        self.SAFEHAVEN_WEIGHT_DISTANCE = _int("WEIGHT_DISTANCE", 30)
        self.SAFEHAVEN_WEIGHT_LANGUAGE = _int("WEIGHT_LANGUAGE", 25)
        self.SAFEHAVEN_WEIGHT_SERVICES = _int("WEIGHT_SERVICES", 10)
        self.SAFEHAVEN_WEIGHT_UTILISATION = _int("WEIGHT_UTILISATION", 35)
        self.SAFEHAVEN_MAX_DISTANCE_KM = _int("MAX_DISTANCE_KM", 150)
        self.SAFEHAVEN_BATCH_TIME_LIMIT_S = _int("BATCH_TIME_LIMIT_S", 10)

        # Alerts (see alerts/rules.py): thresholds of each rule.
        self.SAFEHAVEN_ALERT_UNUSED_DAYS = _int("ALERT_UNUSED_DAYS", 14)
        self.SAFEHAVEN_ALERT_LOW_UTILISATION = _float("ALERT_LOW_UTILISATION", 0.65)
        self.SAFEHAVEN_ALERT_UTILISATION_DAYS = _int("ALERT_UTILISATION_DAYS", 30)
        self.SAFEHAVEN_ALERT_NEAR_CAPACITY = _float("ALERT_NEAR_CAPACITY", 0.90)
        self.SAFEHAVEN_ALERT_STALE_HEADCOUNT_HOURS = _int("ALERT_STALE_HEADCOUNT_HOURS", 48)
        self.SAFEHAVEN_ALERT_PLACEMENT_UNANSWERED_HOURS = _int("ALERT_PLACEMENT_UNANSWERED_HOURS", 4)
        self.SAFEHAVEN_ALERT_IDENTIFICATION_DROP = _float("ALERT_IDENTIFICATION_DROP", 0.20)
        self.SAFEHAVEN_ALERT_UNUSUAL_ACCESS_PER_HOUR = _int("ALERT_UNUSUAL_ACCESS_PER_HOUR", 30)
        # The scheduler: SAFEHAVEN_SCHEDULER=1 starts it inside the web process (one instance holds the lease).
        self.SAFEHAVEN_SCHEDULER = _bool("SCHEDULER", False)
        self.SAFEHAVEN_SCHEDULER_LEASE_SECONDS = _int("SCHEDULER_LEASE_SECONDS", 90)
        self.SAFEHAVEN_SCHEDULER_MISFIRE_GRACE_S = _int("SCHEDULER_MISFIRE_GRACE_S", 300)
        # "job=seconds,..." runs those jobs at that interval instead of their schedule (tests, drills).
        self.SAFEHAVEN_SCHEDULER_INTERVALS: dict[str, float] = {
            name.strip(): float(seconds) for name, _, seconds in
            (item.partition("=") for item in env.get(PREFIX + "SCHEDULER_INTERVALS", "").split(",") if item.strip())}
        # The daily e-mail digest of open alerts (alerts/mail.py): off unless a host and recipients are set.
        self.SAFEHAVEN_SMTP_HOST: str | None = env.get(PREFIX + "SMTP_HOST") or None
        self.SAFEHAVEN_SMTP_PORT = _int("SMTP_PORT", 25)
        self.SAFEHAVEN_SMTP_FROM: str | None = env.get(PREFIX + "SMTP_FROM") or None
        # Comma-separated secretariat addresses.
        self.SAFEHAVEN_SMTP_TO: list[str] = _list("SMTP_TO")
        self.SAFEHAVEN_SMTP_USER: str | None = env.get(PREFIX + "SMTP_USER") or None
        self.SAFEHAVEN_SMTP_PASSWORD: str | None = env.get(PREFIX + "SMTP_PASSWORD") or None
        self.SAFEHAVEN_SMTP_STARTTLS = _bool("SMTP_STARTTLS", False)
        # Notifications (alerts/notify.py, alerts/delivery.py): the outbox is delivered every NOTIFY_SECONDS; links
        # in messages start with BASE_URL; an emergency (urgent) request escalates to the secretariat after
        # ESCALATE_EMERGENCY_MINUTES (ESCALATE_URGENT_MINUTES); managers hear of a hold this long before it ends.
        self.SAFEHAVEN_NOTIFY_SECONDS = _int("NOTIFY_SECONDS", 10)
        self.SAFEHAVEN_BASE_URL = env.get(PREFIX + "BASE_URL") or "http://127.0.0.1:5000"
        self.SAFEHAVEN_ESCALATE_EMERGENCY_MINUTES = _int("ESCALATE_EMERGENCY_MINUTES", 15)
        self.SAFEHAVEN_ESCALATE_URGENT_MINUTES = _int("ESCALATE_URGENT_MINUTES", 60)
        self.SAFEHAVEN_NOTIFY_HOLD_WARNING_MINUTES = _int("NOTIFY_HOLD_WARNING_MINUTES", 30)
        # Times on pages, in e-mails and in date inputs are this zone's (a user may choose their own); storage and
        # the API stay UTC. Kosovo keeps Central European time, as Belgrade does.
        self.SAFEHAVEN_TIMEZONE = env.get(PREFIX + "TIMEZONE") or "Europe/Belgrade"
        # How often open pages ask whether their live parts changed (static/live.js; at least 2 seconds).
        self.SAFEHAVEN_LIVE_SECONDS = _int("LIVE_SECONDS", 10)

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
        # The tests were written reading UTC on pages; tests/test_local_time.py sets a zone of its own.
        self.SAFEHAVEN_TIMEZONE = "UTC"
        self.SAFEHAVEN_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
        self.SAFEHAVEN_AUDIT_KEYS = [TEST_AUDIT_KEY]
        self.SQLALCHEMY_DATABASE_URI = database_url or "sqlite://"
        self.WTF_CSRF_ENABLED = True
        self.SAFEHAVEN_LOAD_DEMO = False
        self.SAFEHAVEN_TOTP_REQUIRED_ROLES = ""  # the two-factor tests turn it on
        self.RATELIMIT_STORAGE_URI = "memory://"
