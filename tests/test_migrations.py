"""The schema comes from the migrations, and they agree with the models."""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from accounts import audit
from accounts.models import AuditEvent
from app import create_app
from config import TEST_AUDIT_KEY, TestConfig
from extensions import db


def test_migrations_build_the_models_schema(tmp_path):
    app = create_app(TestConfig(f"sqlite:///{tmp_path / 'migrated.db'}"))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(revision="base")
        upgrade()


# --- 0008: the audit chain signed with the audit key ---------------------------------------------------------

def _migration_0008():
    spec = importlib.util.spec_from_file_location(
        "migration_0008", Path(__file__).parents[1] / "migrations" / "versions" / "0008_audit_mac.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def migrated_url(backend, tmp_path):  # noqa: ANN001, ANN201
    """An empty database for migrations: a SQLite file, or a schema of its own in TEST_DATABASE_URL."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    url = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS audit_migration CASCADE"))
        conn.execute(text("CREATE SCHEMA audit_migration"))
    yield url.update_query_dict({"options": "-csearch_path=audit_migration"}).render_as_string(hide_password=False)
    with owner.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS audit_migration CASCADE"))
    owner.dispose()


def _old_chain(conn, migration, ids, *, tamper_with=None):  # noqa: ANN001
    """Events as revisions 0001-0007 wrote them: plain SHA-256 hashes, ids from a sequence (with gaps)."""
    prev = migration.GENESIS
    for n, event_id in enumerate(ids):
        values = {"id": event_id, "at": datetime(2026, 1, 1, 12, n, tzinfo=UTC), "actor_id": None,
                  "actor": "system", "action": "user.create", "object_type": "user", "object_id": f"u{n}",
                  "outcome": "ok", "ip": None, "detail": {"n": n}, "prev_hash": prev}
        values["hash"] = prev = migration._plain_hash(values, prev)
        if event_id == tamper_with:
            values["actor"] = "someone-else"
        conn.execute(migration.plain_events.insert().values(values))


def test_0008_renumbers_and_signs_the_existing_chain_with_the_audit_key(migrated_url, backend, now):
    migration = _migration_0008()
    app = create_app(TestConfig(migrated_url))
    with app.app_context():
        upgrade(revision="0007_figures_indexes")
        with db.engine.begin() as conn:
            _old_chain(conn, migration, [1, 2, 4, 7])  # 3, 5 and 6 rolled back on PostgreSQL
        upgrade()
        rows = db.session.execute(select(AuditEvent.id, AuditEvent.key_id, AuditEvent.object_id)
                                  .order_by(AuditEvent.id)).all()
        assert rows == [(n, audit.key_id(TEST_AUDIT_KEY), f"u{n - 1}") for n in (1, 2, 3, 4)]
        assert audit.verify_chain(db.session).ok
        audit.record(db.session, actor=None, action="after", object_type="user", object_id="x", now=now)
        db.session.commit()
        assert audit.verify_chain(db.session) == audit.ChainReport(True, 5)
        with pytest.raises(DBAPIError, match="append-only"):  # the guard is back
            db.session.execute(text("DELETE FROM audit_events WHERE id = 1"))
        db.session.rollback()

        downgrade(revision="0007_figures_indexes")
        with db.engine.connect() as conn:
            prev = migration.GENESIS
            for values in migration._events(conn, migration.plain_events):
                assert values["prev_hash"] == prev and values["hash"] == migration._plain_hash(values, prev)
                prev = values["hash"]
        upgrade()
        assert audit.verify_chain(db.session) == audit.ChainReport(True, 5)
    with app.app_context():
        db.engine.dispose()


def test_0008_refuses_to_sign_a_chain_that_was_tampered_with(migrated_url, capsys):
    migration = _migration_0008()
    app = create_app(TestConfig(migrated_url))
    with app.app_context():
        upgrade(revision="0007_figures_indexes")
        with db.engine.begin() as conn:
            _old_chain(conn, migration, [1, 2, 3], tamper_with=2)
        with pytest.raises(SystemExit):  # Flask-Migrate's answer to the migration's RuntimeError
            upgrade()
        assert "the audit chain is broken at event 2" in capsys.readouterr().err
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0007_figures_indexes"
            assert conn.scalar(text("SELECT actor FROM audit_events WHERE id = 2")) == "someone-else"
        db.engine.dispose()


# --- 0012: stored exclusions keep their values beside their codes ---------------------------------------------

def test_0012_gives_stored_rankings_their_values_and_takes_them_back(migrated_url, now):
    from flask import current_app

    from placement import services as placement
    from placement.models import PlacementRequest
    from tests.fixtures.factories import Factory

    app = create_app(TestConfig(migrated_url))
    with app.app_context():
        upgrade()
        make = Factory(db.session, now)
        make.shelter("MEN", sexes=["male"])
        make.stay(make.shelter("FULL", capacity=1))
        officer = make.user("police")
        request = placement.create_request(db.session, officer, now, make.case(created_by=officer),
                                           placement.Settings.from_config(current_app.config))
        db.session.commit()
        stored = {e["shelter"]: e["values"] for e in db.session.get(PlacementRequest, request.id).excluded}
        assert stored == {"MEN": [{"sex": "female", "minor": False}],
                          "FULL": [{"free": 0, "needed": 1, "taken": 1, "usable": 1}]}
        db.session.remove()
        downgrade(revision="0010_location_secrecy")
        with db.engine.connect() as conn:
            (excluded,) = conn.execute(text("SELECT excluded FROM placement_requests")).one()
        excluded = json.loads(excluded) if isinstance(excluded, str) else excluded
        assert all("values" not in e for e in excluded) and {e["shelter"] for e in excluded} == {"MEN", "FULL"}
        upgrade()
        again = {e["shelter"]: e["values"] for e in db.session.get(PlacementRequest, request.id).excluded}
        # Read back from the English: all but the beds needed where none is free, which nothing words.
        assert again == {"MEN": [{"sex": "female", "minor": False}],
                         "FULL": [{"free": 0, "taken": 1, "usable": 1}]}
        db.session.remove()
        db.engine.dispose()


def test_0016_keeps_earlier_rejections_as_other_with_their_text(migrated_url, now):
    from flask import current_app

    from placement import services as placement
    from placement.models import PlacementEvent, PlacementRequest
    from tests.fixtures.factories import Factory

    app = create_app(TestConfig(migrated_url))
    with app.app_context():
        upgrade()
        make = Factory(db.session, now)
        shelter = make.shelter("S")
        officer = make.user("police")
        settings = placement.Settings.from_config(current_app.config)
        request = placement.create_request(db.session, officer, now, make.case(created_by=officer), settings)
        placement.reserve(db.session, officer, now, request, "S", settings)
        placement.reject(db.session, make.manager(shelter), now, request, "security_concern", "seen outside")
        db.session.commit()
        request_id = request.id
        db.session.remove()
        downgrade(revision="0015_onboarding")
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT reason, note FROM placement_requests")).one() == (
                "rejected_by_shelter", "seen outside")
            # A rejection as 0015 wrote it: the free text as the event's note.
            conn.execute(text("UPDATE placement_events SET note = 'full tonight' WHERE to_status = 'rejected'"))
            conn.execute(text("UPDATE placement_requests SET note = 'full tonight'"))
        upgrade()
        stored = db.session.get(PlacementRequest, request_id)
        assert (stored.reason, stored.note) == ("other", "full tonight")
        events = db.session.scalars(select(PlacementEvent).where(PlacementEvent.request_id == request_id)).all()
        assert [(e.to_status, e.reason, e.note) for e in events if e.reason or e.to_status == "rejected"] == [
            ("rejected", "other", "full tonight")]
        db.session.remove()
        db.engine.dispose()
