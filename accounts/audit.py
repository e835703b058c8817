"""The append-only, hash-chained audit log.

Each event's hash covers its own fields and the hash of the event before it,
so `verify_chain` finds the first event that was edited, removed or inserted
out of order. Events are written in the same transaction as the change they
record: if the change rolls back, so does its audit entry.

The request wrapper puts the caller's address in `session.info["ip"]`; jobs
and commands leave it empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from accounts.models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL, AuditEvent, User

GENESIS = "0" * 64
# Any fixed number: PostgreSQL's advisory lock key for appending to the chain.
_CHAIN_LOCK_KEY = 7_146_201


def _digest(event: AuditEvent) -> str:
    body = {
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "ip": event.ip,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One event to append with `record_many`: what was done to which object, and its detail."""

    action: str
    object_type: str
    object_id: str | int
    detail: dict[str, Any] = field(default_factory=dict)
    outcome: str = "ok"


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: str | int,
    now: datetime,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    `detail` must hold JSON values only and never a victim's identifying data.
    """
    (event,) = record_many(session, [Entry(action, object_type, object_id, detail or {}, outcome)],
                           actor=actor, now=now, actor_name=actor_name)
    return event


def record_many(session: Session, entries: Sequence[Entry], *, actor: User | None, now: datetime,
                actor_name: str | None = None) -> list[AuditEvent]:
    """Append `entries` to the chain in order, one event each, inside the caller's transaction.

    The same events as one `record` call per entry, but the previous hash is read once and the
    events are inserted in one flush: a job that changes thousands of objects audits each of them
    without a round trip per event. `detail` values must be JSON and never identify a victim.
    """
    if not entries:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appends until commit so the chain has one order; SQLite's
        # BEGIN IMMEDIATE already serialises every writing transaction.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    ip = session.info.get("ip")
    events = []
    for entry in entries:
        event = AuditEvent(
            at=now,
            actor_id=actor.id if actor else None,
            actor=actor.username if actor else (actor_name or "system"),
            action=entry.action,
            object_type=entry.object_type,
            object_id=str(entry.object_id),
            outcome=entry.outcome,
            ip=ip,
            detail=entry.detail,
            prev_hash=prev,
        )
        event.hash = prev = _digest(event)
        events.append(event)
    session.add_all(events)
    session.flush()
    return events


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the whole log in order; report the first event whose hash or link is wrong."""
    prev_hash = GENESIS
    checked = 0
    last_id = 0
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            return ChainReport(ok=True, checked=checked)
        for event in events:
            if event.prev_hash != prev_hash:
                return ChainReport(False, checked, event.id, "does not follow the event before it")
            if _digest(event) != event.hash:
                return ChainReport(False, checked, event.id, "its content does not match its hash")
            prev_hash = event.hash
            checked += 1
            last_id = event.id
        session.expunge_all()


def purge_for_demo(session: Session) -> None:
    """Empty the log of a demo database (`flask demo load --reset`), inside the caller's transaction.

    The database refuses DELETE on the log, so the guard is lifted and put back around it;
    never call this on a real deployment's database.
    """
    dialect = session.get_bind().dialect.name
    for statement in DROP_APPEND_ONLY_DDL.get(dialect, []):
        session.execute(text(statement).execution_options(no_parameters=True))
    session.execute(AuditEvent.__table__.delete())
    for statement in APPEND_ONLY_DDL.get(dialect, []):
        session.execute(text(statement).execution_options(no_parameters=True))
