"""Issue 13, the audit log against a database owner: someone who can write the database directly (drop the
append-only triggers, edit, delete and renumber rows, recompute hashes) but does not hold the audit key
kept outside it, and who may even hold the key for what was not yet anchored outside the database.

Every attack goes through the real database with plain SQL, and is judged by the real commands
(`flask audit verify`, `flask check`), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, func, select, update

from accounts import audit
from accounts.models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL, AuditEvent
from app import create_app
from config import TEST_AUDIT_KEY, TestConfig
from database import configured_or_instance_keys
from extensions import db

EVENTS = AuditEvent.__table__


@contextmanager
def as_database_owner(backend: str) -> Iterator[Connection]:
    """A connection of someone who owns the database: the append-only guard dropped for the attack and put
    back after it, so nothing but the chain itself can tell."""
    db.session.commit()
    with db.engine.begin() as conn:
        for statement in DROP_APPEND_ONLY_DDL[backend]:
            conn.exec_driver_sql(statement)
        yield conn
        for statement in APPEND_ONLY_DDL[backend]:
            conn.exec_driver_sql(statement)


def plain_hash(row: dict, prev_hash: str) -> str:
    """SHA-256 of an event as the code before the audit key chained it: what anyone can recompute."""
    body = {name: row[name] for name in ("actor_id", "actor", "action", "object_type", "object_id", "outcome",
                                         "ip", "detail")}
    body |= {"at": row["at"].isoformat(), "prev_hash": prev_hash}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
                          .encode()).hexdigest()


def relink_plainly(conn: Connection, from_id: int = 1) -> None:
    """Recompute plain hashes from event `from_id` on, linking each to the one before, as an owner
    covering their tracks would."""
    prev = audit.GENESIS
    for row in conn.execute(select(EVENTS).order_by(EVENTS.c.id)).mappings().all():
        if row["id"] >= from_id:
            new = plain_hash(dict(row), prev)
            conn.execute(update(EVENTS).where(EVENTS.c.id == row["id"]).values(prev_hash=prev, hash=new))
            prev = new
        else:
            prev = row["hash"]


def event_ids() -> list[int]:
    ids = list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    db.session.commit()
    return ids


def assert_caught(runner, *needles: str) -> None:  # noqa: ANN001
    """`flask audit verify` and `flask check` both fail, and both say each of `needles`."""
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 1, verify.output
    check = runner.invoke(args=["check"])
    assert check.exit_code != 0, check.output
    (chain_line,) = [line for line in check.output.splitlines() if line.startswith("audit_chain:")]
    for needle in needles:
        assert needle in verify.output, verify.output
        assert needle in chain_line, chain_line


def some_history(make) -> None:  # noqa: ANN001
    """A few real events: an organisation, a shelter, users and a token (seven events or more)."""
    make.org(code="KP")
    make.shelter("PVPT")
    make.token(make.user("police"))
    make.user("secretariat")


def test_deleting_the_newest_events_and_rehashing_plainly_is_caught(runner, make, backend):
    some_history(make)
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    make.user("admin")  # newer than the anchor
    newest = event_ids()[-3:]
    with as_database_owner(backend) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id.in_(newest)))
        relink_plainly(conn)
    assert_caught(runner, "broken at event 1: its content does not match its MAC")


def test_editing_an_event_and_rehashing_without_the_key_is_caught(runner, make, backend):
    some_history(make)
    third = event_ids()[2]
    with as_database_owner(backend) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == third).values(detail={"role": "admin"}))
        relink_plainly(conn, from_id=third)
    assert_caught(runner, f"broken at event {third}: its content does not match its MAC")


def test_deleting_an_event_in_the_middle_and_renumbering_is_caught(runner, make, backend):
    some_history(make)
    ids = event_ids()
    middle = ids[len(ids) // 2]
    with as_database_owner(backend) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id == middle))
        for later in ids[ids.index(middle) + 1:]:
            conn.execute(update(EVENTS).where(EVENTS.c.id == later).values(id=later - 1))
        relink_plainly(conn, from_id=middle)
    assert event_ids() == ids[:-1]  # contiguous again: only the keyed chain can tell
    assert_caught(runner, f"broken at event {middle}")


def test_a_gap_in_the_ids_is_named(runner, make, backend):
    some_history(make)
    ids = event_ids()
    with as_database_owner(backend) as conn:  # the newest event moved one id on: no content changed
        conn.execute(update(EVENTS).where(EVENTS.c.id == ids[-1]).values(id=ids[-1] + 1))
    assert_caught(runner, f"broken at event {ids[-1] + 1}: event {ids[-1]} is missing")


def test_deleting_anchored_events_is_caught_even_with_the_key(runner, make, backend, app):
    some_history(make)
    result = runner.invoke(args=["audit", "anchor"])
    head = event_ids()[-1]
    assert result.exit_code == 0 and f"anchored event {head}" in result.output
    # Whoever holds the key can drop the newest events and leave a chain whose every MAC verifies...
    with as_database_owner(backend) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id >= head - 1))
    assert audit.verify_chain(db.session).ok
    db.session.rollback()
    # ... but not the anchor kept outside the database.
    assert_caught(runner, f"anchored event {head} is missing")
    anchors = Path(app.instance_path) / "audit-anchors.log"
    assert len(anchors.read_text().splitlines()) == 1


def test_an_anchored_event_rewritten_with_the_key_is_caught(runner, make, backend):
    some_history(make)
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    ids = event_ids()
    kid, key = audit.audit_keys.signing
    with as_database_owner(backend) as conn:  # the key holder rewrites event 2 and re-signs everything after it
        conn.execute(update(EVENTS).where(EVENTS.c.id == ids[1]).values(actor="someone-else"))
        prev = conn.scalar(select(EVENTS.c.hash).where(EVENTS.c.id == ids[0]))
        for row in conn.execute(select(EVENTS).where(EVENTS.c.id >= ids[1]).order_by(EVENTS.c.id)).mappings().all():
            mac = audit.event_mac(key, dict(row) | {"prev_hash": prev})
            conn.execute(update(EVENTS).where(EVENTS.c.id == row["id"]).values(prev_hash=prev, hash=mac))
            prev = mac
    assert audit.verify_chain(db.session).ok  # every MAC verifies ...
    db.session.rollback()
    assert_caught(runner, f"broken at event {ids[-1]}: anchored event {ids[-1]} was altered")  # ... not the anchor


def test_a_forged_anchor_line_is_caught(runner, make, app):
    some_history(make)
    anchors = Path(app.instance_path) / "audit-anchors.log"
    assert not anchors.exists() and runner.invoke(args=["audit", "verify"]).exit_code == 0  # nothing anchored yet
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    at, last_id, head, kid, mac = anchors.read_text().split()
    with anchors.open("a") as file:  # a line claiming an earlier head, with a MAC made up without the key
        file.write(f"{at} {int(last_id) - 1} {head} {kid} {hashlib.sha256(head.encode()).hexdigest()}\n")
    assert_caught(runner, f"anchor file {anchors}, line 2 does not verify")


def test_a_rolled_back_transaction_leaves_no_gap(runner, make, now):
    make.org()
    audit.record(db.session, actor=None, action="never", object_type="user", object_id="x", now=now)
    db.session.flush()
    db.session.rollback()  # e.g. a request that failed after auditing
    make.org()
    ids = event_ids()
    assert ids == list(range(1, len(ids) + 1))
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_key_rotation_old_events_verify_while_their_key_is_listed(runner, make, database_url):
    old_key, new_key = TEST_AUDIT_KEY, "a-new-audit-key-put-first-0123456789abcdef"

    def restart_with(*keys: str) -> None:
        """Another start of the app with SAFEHAVEN_AUDIT_KEYS set: the process-wide audit keys are rebound."""
        config = TestConfig(database_url)
        config.SAFEHAVEN_AUDIT_KEYS = list(keys)
        create_app(config)

    make.org()
    old_events = event_ids()
    try:
        restart_with(new_key, old_key)
        make.org()
        assert runner.invoke(args=["audit", "verify"]).exit_code == 0
        key_ids = dict(db.session.execute(select(AuditEvent.id, AuditEvent.key_id)).all())
        db.session.commit()
        assert {key_ids[i] for i in old_events} == {audit.key_id(old_key)}
        assert set(key_ids.values()) == {audit.key_id(old_key), audit.key_id(new_key)}

        restart_with(new_key)  # the old key removed too early
        result = runner.invoke(args=["audit", "verify"])
        assert result.exit_code == 1
        assert (f"broken at event 1: signed with audit key {audit.key_id(old_key)}, which is not among the "
                "audit keys") in result.output
    finally:
        restart_with(old_key)


def test_the_audit_key_is_kept_outside_the_database(tmp_path):
    key_file = tmp_path / "audit_key"
    (key,) = configured_or_instance_keys([], key_file, audit.generate_key)  # none configured: made once
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key) == 64
    assert configured_or_instance_keys([], key_file, audit.generate_key) == [key]  # kept across restarts
    config = TestConfig()
    config.SAFEHAVEN_AUDIT_KEYS = ["too-short-to-be-a-key"]
    try:
        with pytest.raises(ValueError, match="at least 32 characters"):
            create_app(config)
    finally:
        audit.audit_keys.bind([TEST_AUDIT_KEY])


def test_the_chain_restarts_at_1_after_a_demo_reset(runner, app):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    result = runner.invoke(args=["demo", "load", "--reset"])
    assert result.exit_code == 0, result.output
    assert "anchors were moved to" in result.output
    ids = event_ids()
    assert ids[0] == 1 and ids == list(range(1, len(ids) + 1))
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert runner.invoke(args=["check"]).exit_code == 0


def test_the_scheduler_anchors_the_chain(app, make, now):
    from alerts import scheduler

    some_history(make)
    head = event_ids()[-1]
    db.session.remove()
    (run,) = scheduler.tick(app, now, "holder", names=["anchor"])
    assert run.ok and run.result == head
    line = (Path(app.instance_path) / "audit-anchors.log").read_text()
    assert line.split()[1:3] == [str(head), db.session.get(AuditEvent, head).hash]


def test_demo_reset_refuses_a_database_with_real_data(runner, app):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    created = runner.invoke(args=["users", "create", "officer7", "--role", "police", "--org", "KP-THBS"],
                            input="a long enough password\n")
    assert created.exit_code == 0, created.output

    def counts() -> tuple[int, ...]:
        from accounts.models import User
        from shelters.models import Case, Shelter

        values = tuple(db.session.scalar(select(func.count()).select_from(model))
                       for model in (User, Shelter, Case, AuditEvent))
        db.session.commit()
        return values

    before = counts()
    result = runner.invoke(args=["demo", "load", "--reset"])
    assert result.exit_code != 0
    assert "not the demo's (user officer7)" in result.output and "nothing was changed" in result.output
    assert counts() == before
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


@pytest.mark.parametrize("foreign", ["shelter", "organisation"])
def test_demo_reset_refuses_a_shelter_or_organisation_not_the_demos(runner, make, foreign):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    if foreign == "shelter":
        make.shelter("KPZ")
    else:
        make.org(code="OSCE")
    result = runner.invoke(args=["demo", "load", "--reset"])
    assert result.exit_code != 0
    assert ("shelter KPZ" if foreign == "shelter" else "organisation OSCE") in result.output
