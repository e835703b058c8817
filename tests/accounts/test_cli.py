"""`flask users`, `flask audit verify`, `flask backup`, `flask demo load`, as an operator runs them."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from accounts.models import AuditEvent, User
from extensions import db


def test_users_create_reads_the_password_from_stdin(runner, make):
    make.org(code="KP")
    result = runner.invoke(args=["users", "create", "officer1", "--role", "police", "--org", "KP"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "officer1"))
    assert user.role == "police" and user.organisation.code == "KP"
    assert "a long enough password" not in user.password_hash


@pytest.mark.parametrize(("args", "password", "message"), [
    (["users", "create", "x1", "--role", "wizard"], "a long enough password", "Unknown role"),
    (["users", "create", "x1", "--role", "police"], "short", "at least 12"),
    (["users", "create", "x1", "--role", "shelter_manager", "--shelter", "NOPE"], "a long enough password",
     "Unknown shelter"),
    (["users", "create", "Bad Name", "--role", "police"], "a long enough password", "Username"),
])
def test_users_create_refusals(runner, app, args, password, message):
    result = runner.invoke(args=args, input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output


def test_manager_is_linked_to_shelters(runner, make):
    make.shelter("PVPT")
    result = runner.invoke(args=["users", "create", "mgr", "--role", "shelter_manager", "--shelter", "PVPT"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert [s.code for s in db.session.scalar(select(User).where(User.username == "mgr")).managed_shelters] == ["PVPT"]


@pytest.mark.parametrize(("name", "password", "message"), [
    ("officer", "short", "at least 12"),
    ("officer", "password1234", "common passwords"),
    ("ghost", "a long enough password", "No user ghost."),
])
def test_users_reset_password_refusals_name_the_reason_and_change_nothing(runner, make, name, password, message):
    user = make.user("police", username="officer")
    before = user.password_hash
    result = runner.invoke(args=["users", "reset-password", name], input=password + "\n")
    assert result.exit_code != 0 and message in result.output
    assert password not in result.output
    db.session.refresh(user)
    assert user.password_hash == before


def test_token_is_alone_on_the_last_line_and_works(runner, client, make):
    make.user("secretariat", username="sec")
    result = runner.invoke(args=["users", "token", "sec", "--days", "7"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["username"] == "sec"


def test_token_for_unknown_user_fails(runner, app):
    result = runner.invoke(args=["users", "token", "ghost"])
    assert result.exit_code != 0 and "No user ghost." in result.output


def test_audit_events_refuse_update_and_delete(make):
    make.org()
    first = db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).first()
    for statement in ("UPDATE audit_events SET actor = 'someone-else' WHERE id = :id",
                      "DELETE FROM audit_events WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement), {"id": first})
        db.session.rollback()
    assert db.session.scalar(select(AuditEvent.actor).where(AuditEvent.id == first)) == "system"


def test_audit_verify_passes_then_names_the_tampered_event(runner, make, without_append_only_guard):
    make.shelter()
    make.user("admin")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    victim = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[1]
    db.session.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE id = :id"), {"id": victim.id})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"broken at event {victim.id}" in result.output


def test_audit_verify_catches_a_deleted_event(runner, make, without_append_only_guard):
    for _ in range(3):
        make.org()
    middle = db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()[1]
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": middle})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"broken at event {middle + 1}" in result.output


def test_demo_load_recreates_the_cable(runner, app, api_as, pages):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    for username in ("admin", "secretariat", "manager", "police", "partner"):
        assert username in result.output
    police = db.session.scalar(select(User).where(User.username == "police"))
    shelters = {s["code"]: s for s in api_as(police).get("/shelters").get_json()["shelters"]}
    assert (shelters["PVPT"]["capacity"], shelters["PVPT"]["occupied"], shelters["PVPT"]["available"]) == (5, 4, 1)
    assert shelters["HAH"]["occupied"] == 0 and shelters["ISF"]["occupied"] == 0
    assert shelters["PVPT"]["utilisation_30d"] == pytest.approx(0.8)
    assert runner.invoke(args=["demo", "load"]).exit_code != 0  # not over existing data
    assert pages.login("police", "police-demo-password").status_code == 302  # a session to delete too
    db.session.rollback()
    result = runner.invoke(args=["demo", "load", "--reset"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_demo_identifications_fell_from_32_to_24(runner, app):
    from datetime import date, timedelta

    from shelters.models import Case

    runner.invoke(args=["demo", "load"])
    today = date.today()
    dates = db.session.scalars(select(Case.identified_on)).all()
    last_year = sum(today - timedelta(days=365) <= d <= today for d in dates)
    year_before = sum(today - timedelta(days=730) <= d < today - timedelta(days=365) for d in dates)
    assert (year_before, last_year) == (32, 24)


def test_backup_is_a_consistent_copy(runner, make, tmp_path, backend):
    make.shelter("PVPT")
    target = tmp_path / "backup.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    if backend == "sqlite":
        with sqlite3.connect(target) as conn:
            assert conn.execute("SELECT code FROM shelters").fetchall() == [("PVPT",)]
    else:  # a pg_dump archive: pg_restore reads it back as SQL
        restored = subprocess.run(["pg_restore", "--data-only", "--table=shelters", "-f", "-", str(target)],
                                  capture_output=True, text=True, check=True).stdout
        assert "PVPT" in restored
    assert runner.invoke(args=["backup", str(target)]).exit_code != 0  # never overwrites
