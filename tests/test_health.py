"""/healthz and /readyz: what a load balancer asks, answered without data and without signing in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from alerts import scheduler
from app import create_app
from config import TestConfig
from database import utcnow
from extensions import db


@pytest.fixture
def migrated(tmp_path):
    app = create_app(TestConfig(f"sqlite:///{tmp_path / 'migrated.db'}"))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_healthz_answers_without_a_session_and_says_nothing_else(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_ready_on_a_migrated_database_and_reports_the_scheduler_lease(migrated):
    client = migrated.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"status": "ready", "checks": {
        "database": "ok", "migrations": "current", "scheduler": {"status": "none", "lease_age_seconds": None}}}

    now = utcnow()
    assert scheduler.take_lease(db.session, "web-1", now - timedelta(seconds=30), seconds=90)
    db.session.commit()
    lease = client.get("/readyz").get_json()["checks"]["scheduler"]
    assert lease["status"] == "held" and 29 <= lease["lease_age_seconds"] <= 60
    # A scheduler that stopped renewing: still ready (web instances serve without it), the lease reported stale.
    db.session.execute(text("UPDATE scheduler_leases SET expires_at = :t"), {"t": now - timedelta(minutes=10)})
    db.session.commit()
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.get_json()["checks"]["scheduler"]["status"] == "expired"
    assert "web-1" not in answer.get_data(as_text=True)  # no holder names, no data


def test_readyz_is_503_when_the_schema_is_behind_the_code(migrated):
    db.session.execute(text("UPDATE alembic_version SET version_num = '0009_user_sessions'"))
    db.session.commit()
    answer = migrated.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["migrations"] == "not current"


def test_readyz_is_503_when_the_database_does_not_answer_and_healthz_still_200(tmp_path):
    # Nothing listens on port 1: the database is unreachable from the start.
    config = TestConfig("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    app = create_app(config)
    client = app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "not ready", "checks": {"database": "unreachable"}}
    assert client.get("/healthz").status_code == 200
