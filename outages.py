"""Staying up while a service the app leans on is away.

- **The database** (PostgreSQL restarting, a failover, SQLite locked past its busy timeout): a request that meets a
  broken or refused connection answers 503, a page saying so in the reader's language or the API's JSON error
  `service_unavailable`, with `Retry-After`; never a traceback. The request's transaction is rolled back, so
  nothing it did counts unless its commit was acknowledged; the connection pool checks each connection before
  handing it out (`pool_pre_ping`, config.py) and so recovers by itself once the database is back.
- **The rate-limit store** (Redis at REDIS_URL): Flask-Limiter falls back to this process's memory
  (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED), so signing in and the API keep working on per-process limits. This module
  raises a `system` alert when a process loses the store, probes it again every
  SAFEHAVEN_RATELIMIT_RECHECK_SECONDS, and when it answers puts the shared counters back in use and resolves the
  alert.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from flask import Flask, g, render_template
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from database import utcnow
from extensions import db, limiter, login_manager
from i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

RATE_LIMIT_STORE = "rate-limit-store"  # the system alert's subject
RETRY_AFTER_SECONDS = 5

DATABASE_UNAVAILABLE = _l("The database is not answering for a moment. If you were saving something, look whether "
                          "it is there before you try again in a few seconds.")


def init_app(app: Flask) -> None:
    _register_database_outage(app)
    if app.config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"):
        _watch_rate_limit_store(app)


# --- the database ---------------------------------------------------------------------------------------------


def is_connection_failure(error: BaseException) -> bool:
    """A database that is away (refused, dropped, restarting, pool exhausted), not a bad statement."""
    if isinstance(error, OperationalError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _register_database_outage(app: Flask) -> None:
    from rest import error_response, is_api_request

    def database_unavailable(error: Exception) -> Any:
        if not is_connection_failure(error):
            raise error
        log.warning("database unavailable: %s", type(error).__name__)
        try:
            db.session.rollback()
        except SQLAlchemyError:
            db.session.close()
        if is_api_request():
            # The API answers in English beside its stable code, as every API error does.
            response = error_response(503, "service_unavailable",
                                      "the database is not answering; retry shortly (a POST with an Idempotency-Key is "
                                      "safe to repeat)")
        else:
            # The page must not ask the database who is signed in: it is shown as to a visitor.
            g._login_user = login_manager.anonymous_user()
            response = app.make_response(
                (render_template("error.html", status=503, message=DATABASE_UNAVAILABLE), 503))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(DBAPIError, database_unavailable)
    app.register_error_handler(PoolTimeout, database_unavailable)


# --- the rate-limit store -------------------------------------------------------------------------------------


def _store_lost() -> bool:
    # Flask-Limiter's own flag: set when a call to the store failed and it switched to memory.
    return bool(getattr(limiter, "_storage_dead", False))


def _watch_rate_limit_store(app: Flask) -> None:
    state = app.extensions.setdefault("safehaven_outages", {"store_lost": False, "probed_at": 0.0})

    @app.before_request
    def probe_rate_limit_store() -> None:
        # Flask-Limiter retries the store on a back-off of up to half a minute; ours asks at a steady interval,
        # so shared counting resumes soon after the store returns.
        if not _store_lost():
            return
        interval = float(app.config.get("SAFEHAVEN_RATELIMIT_RECHECK_SECONDS", 10))
        if time.monotonic() - state["probed_at"] < interval:
            return
        state["probed_at"] = time.monotonic()
        if limiter.storage.check():
            limiter._storage_dead = False  # noqa: SLF001 - resume the shared store Flask-Limiter gave up on
            log.info("rate-limit store answers again: shared limits resumed")

    @app.teardown_request
    def report_rate_limit_store(_error: BaseException | None) -> None:
        lost = _store_lost()
        if lost == state["store_lost"]:
            return
        # The request is over: whatever it left uncommitted was never to be kept (and on SQLite its open
        # transaction would hold the write lock this one needs). The alert gets a transaction of its own.
        session = db.session
        try:
            session.rollback()
            record_store_state(session, utcnow(), lost, str(app.config.get("RATELIMIT_STORAGE_URI", "")))
            session.commit()
            state["store_lost"] = lost
        except SQLAlchemyError:
            session.rollback()
            log.exception("could not record the rate-limit store's state; the next request tries again")


def record_store_state(session: Session, now: datetime, lost: bool, uri: str) -> None:
    """Raise (lost) or resolve (back) the `system` alert about the rate-limit store."""
    from alerts import rules
    from alerts import services as alert_services

    if lost:
        log.warning("rate-limit store unreachable: counting in this process's memory")
        alert_services.raise_system_alert(session, now, rules.service_unreachable(RATE_LIMIT_STORE, _scheme(uri)))
    else:
        alert_services.clear_system_alert(session, now, RATE_LIMIT_STORE, note="the store answers again")


def _scheme(uri: str) -> str:
    """The store's kind ("redis"), never its address or password."""
    return uri.split(":", 1)[0] or "unknown"

