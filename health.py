"""`/healthz` and `/readyz` for load balancers and orchestrators: no data, no authentication.

`/healthz` answers 200 whenever the process can answer at all (it touches nothing). `/readyz` answers 200 when
this instance can serve: the database answers and its schema is at the migrations' head; otherwise 503 naming
which check failed. It also says how long ago the scheduler last renewed its lease (a web instance serves without
a scheduler, so a stale lease is reported, not a reason to take the instance out of rotation). Nothing in either
answer says anything about shelters, cases or users.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from database import begin_read_only, utcnow
from extensions import db

bp = Blueprint("health", __name__)

# Endpoints that open no database transaction before their view runs (see app._register_transactions): /healthz
# never touches the database, /readyz opens its own read and answers 503 when it cannot.
NO_TRANSACTION_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})
MIGRATIONS = Path(__file__).with_name("migrations")


@cache
def migration_heads(directory: str = str(MIGRATIONS)) -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code."""
    config_path = Path(directory) / "alembic.ini"
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig(str(config_path)) if config_path.exists() else AlembicConfig()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def lease_age_seconds(expires_at: datetime | None, now: datetime, lease_seconds: int) -> float | None:
    """How long ago the lease was last taken or renewed (it is renewed for `lease_seconds` each time)."""
    if expires_at is None:
        return None
    return round(max(0.0, lease_seconds - (expires_at - now).total_seconds()), 1)


def readiness(now: datetime) -> tuple[bool, dict[str, Any]]:
    """(ready, checks): the database, the schema's revision against the code's, the scheduler lease's age."""
    from alerts.models import SchedulerLease

    checks: dict[str, Any] = {}
    session = db.session()
    try:
        # A read-only transaction like any GET's (rolled back when the request ends), on the session's own
        # connection: a probe never queues behind, nor locks out, the requests it reports on.
        begin_read_only(session)
        conn = session.connection()
        conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
        expires_at = session.scalar(select(SchedulerLease.expires_at).order_by(SchedulerLease.expires_at.desc())
                                    .limit(1)) if current else None
    except SQLAlchemyError:
        session.rollback()
        checks["database"] = "unreachable"
        return False, checks
    heads = migration_heads()
    checks["migrations"] = "current" if current == heads else ("missing" if not current else "not current")
    lease_seconds = int(current_app.config.get("SAFEHAVEN_SCHEDULER_LEASE_SECONDS", 90))
    age = lease_age_seconds(expires_at, now, lease_seconds)
    checks["scheduler"] = {
        "status": "none" if age is None else ("held" if age <= lease_seconds else "expired"),
        "lease_age_seconds": age,
    }
    return checks["migrations"] == "current", checks


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    ready, checks = readiness(utcnow())
    return ({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503,
            {"Cache-Control": "no-store"})
