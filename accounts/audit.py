"""The append-only audit log: a chain of keyed MACs, anchored outside the database.

Each event's `hash` is an HMAC-SHA256, under an audit key kept outside the database
(SAFEHAVEN_AUDIT_KEYS, else instance/audit_key), of every column of the event, its id and
the previous event's MAC included. Ids are the previous id + 1, read under the lock that
serialises appends, so they run 1, 2, 3, ... without a gap even when a transaction rolls
back. Someone who can write the database but lacks the key cannot edit, insert, remove or
reorder an event without `verify_chain` naming it.

Someone who holds the key too could rewrite the newest events; `anchor` appends the chain's
head (time, last id, head MAC, under a MAC of its own) to a file outside the database, and
`verify_chain` fails when an anchored event is missing or altered (docs/security.md says
what a database owner can and cannot hide). Events are written in the same transaction as
the change they record: if the change rolls back, so does its audit entry.

The request wrapper puts the caller's address in `session.info["ip"]`; jobs and commands
leave it empty.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from accounts.models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL, AuditEvent, User

GENESIS = "0" * 64
# Any fixed number: PostgreSQL's advisory lock key for appending to the chain.
_CHAIN_LOCK_KEY = 7_146_201
# What each event's MAC covers: every column but the MAC itself.
MAC_FIELDS = ("id", "at", "actor_id", "actor", "action", "object_type", "object_id", "outcome", "ip", "detail",
              "prev_hash", "key_id")
# Object types of account events, the only ones the admin reads (`account_events`); every other event
# is about cases, shelters, placements, alerts or reports, and is for the secretariat.
ACCOUNT_OBJECT_TYPES = frozenset({"user", "organisation", "token", "keys", "audit"})
MIN_KEY_LENGTH = 32


# --- keys --------------------------------------------------------------------------------------------------

def key_id(key: str) -> str:
    """A key's public name, stored on each event it signs: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def generate_key() -> str:
    """A new random audit key (64 hex digits)."""
    return secrets.token_hex(32)


class AuditKeys:
    """The chain's HMAC keys, newest first: the first signs new events and anchors, every one verifies.

    `create_app` binds the keys from SAFEHAVEN_AUDIT_KEYS (or the instance folder's key), as it binds
    the encryption keyring. Putting a new key first signs new events with it; older events verify
    as long as the key that signed them is still listed.
    """

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._signing: str | None = None

    def bind(self, keys: Sequence[str]) -> None:
        """Use `keys` (newest first); raises ValueError on none, or on one shorter than 32 characters."""
        if not keys:
            raise ValueError("no audit key given")
        if any(len(key) < MIN_KEY_LENGTH for key in keys):
            raise ValueError(f"an audit key must be at least {MIN_KEY_LENGTH} characters")
        self._keys = {key_id(key): key.encode() for key in keys}
        self._signing = key_id(keys[0])

    @property
    def signing(self) -> tuple[str, bytes]:
        """(key id, key) of the newest key."""
        if self._signing is None:
            raise RuntimeError("no audit keys bound: create the app first")
        return self._signing, self._keys[self._signing]

    def get(self, kid: str | None) -> bytes | None:
        """The bound key named `kid`, or None when it is not (or no longer) among the keys."""
        if self._signing is None:
            raise RuntimeError("no audit keys bound: create the app first")
        return self._keys.get(kid or "")


audit_keys = AuditKeys()


def event_mac(key: bytes, values: Mapping[str, Any]) -> str:
    """HMAC-SHA256 under `key` of an event's columns (MAC_FIELDS of `values`), as 64 hex digits."""
    body = {name: values[name] for name in MAC_FIELDS}
    body["at"] = body["at"].astimezone(UTC).isoformat()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


# --- appending ---------------------------------------------------------------------------------------------

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


def _head(session: Session) -> tuple[int, str]:
    """(id, MAC) of the last event, or (0, GENESIS) for an empty log."""
    head = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    return (head.id, head.hash) if head is not None else (0, GENESIS)


def record_many(session: Session, entries: Sequence[Entry], *, actor: User | None, now: datetime,
                actor_name: str | None = None) -> list[AuditEvent]:
    """Append `entries` to the chain in order, one event each, inside the caller's transaction.

    The same events as one `record` call per entry, but the chain's head is read once and the
    events are inserted in one flush: a job that changes thousands of objects audits each of them
    without a round trip per event. Each event gets the next id and a MAC under the newest audit
    key. `detail` values must be JSON and never identify a victim.
    """
    if not entries:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appends until commit so the chain has one order and the next id is free; SQLite's
        # BEGIN IMMEDIATE already serialises every writing transaction.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    last_id, prev = _head(session)
    kid, key = audit_keys.signing
    ip = session.info.get("ip")
    events = []
    for event_id, entry in enumerate(entries, start=last_id + 1):
        event = AuditEvent(
            id=event_id,
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
            key_id=kid,
        )
        event.hash = prev = event_mac(key, {name: getattr(event, name) for name in MAC_FIELDS})
        events.append(event)
    session.add_all(events)
    session.flush()
    return events


def account_events() -> ColumnElement[bool]:
    """The condition that keeps an event about accounts: sign-ins, users, organisations, tokens, keys
    and reads of the log. A read of the log that named a case was recorded, before it became a case
    event, as an "audit" event whose object is the case code (in capitals, which no user name has):
    those are left out too."""
    return AuditEvent.object_type.in_(ACCOUNT_OBJECT_TYPES) & (
        (AuditEvent.object_type != "audit") | (AuditEvent.object_id == func.lower(AuditEvent.object_id)))


# --- anchors outside the database --------------------------------------------------------------------------

def anchor_path(config: Mapping[str, Any], instance_path: str) -> Path:
    """The anchor file: SAFEHAVEN_AUDIT_ANCHOR_PATH, else audit-anchors.log in the instance folder."""
    return Path(config.get("SAFEHAVEN_AUDIT_ANCHOR_PATH") or Path(instance_path) / "audit-anchors.log")


@dataclass(frozen=True)
class Anchor:
    """The chain's head as it was at `at`: the last event's id and MAC, and the key that signs the line."""

    at: datetime
    last_id: int
    head: str
    key_id: str

    @property
    def text(self) -> str:
        return f"{self.at.astimezone(UTC).isoformat()} {self.last_id} {self.head} {self.key_id}"


def _line_mac(key: bytes, line: str) -> str:
    return hmac.new(key, line.encode(), hashlib.sha256).hexdigest()


def anchor(session: Session, now: datetime, path: Path) -> Anchor | None:
    """Append the chain's head to the anchor file at `path`; None (and no line) when the log is empty.

    One line: time, last id, head MAC, key id, and a MAC of those under the newest audit key, so
    a line made without the key does not verify. The file is opened for append only and fsynced
    before this returns. Reads only committed events (call it with no audit write pending);
    writes nothing to the database. Raises OSError when the file cannot be written.
    """
    last_id, head = _head(session)
    if last_id == 0:
        return None
    kid, key = audit_keys.signing
    mark = Anchor(now, last_id, head, kid)
    line = f"{mark.text} {_line_mac(key, mark.text)}\n".encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.write(fd, line) != len(line):
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)
    return mark


class BadAnchor(ValueError):
    """A line of the anchor file that does not verify (forged, altered or damaged)."""


def read_anchors(path: Path) -> dict[int, str]:
    """Anchored event id -> the MAC it had, from every line of `path` (none when the file does not exist).

    Raises BadAnchor naming the first line that is malformed, made with a key that is not bound,
    whose MAC does not verify, or that contradicts an earlier line about the same event.
    """
    anchors: dict[int, str] = {}
    if not path.exists():
        return anchors
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"anchor file {path}, line {number}"
            fields = line.split()
            if len(fields) != 5:
                raise BadAnchor(f"{where} is not an anchor (time, last id, head MAC, key id, MAC)")
            at, last_id, head, kid, mac = fields
            key = audit_keys.get(kid)
            if key is None:
                raise BadAnchor(f"{where} was made with audit key {kid}, which is not among the audit keys")
            if not hmac.compare_digest(_line_mac(key, f"{at} {last_id} {head} {kid}"), mac):
                raise BadAnchor(f"{where} does not verify: it was forged or altered")
            event_id = int(last_id)
            if anchors.setdefault(event_id, head) != head:
                raise BadAnchor(f"{where} contradicts an earlier anchor of event {event_id}")
    return anchors


def retire_anchors(path: Path, now: datetime) -> Path | None:
    """Move the anchor file aside, for `flask demo load --reset`, which empties the log; the new name,
    or None when there was no file. Raises OSError when it cannot be moved (append-only storage)."""
    if not path.exists():
        return None
    retired = path.with_name(f"{path.name}.before-reset-{now.astimezone(UTC):%Y%m%dT%H%M%S}")
    path.rename(retired)
    return retired


# --- verifying ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    problem: str | None = None

    @property
    def finding(self) -> str:
        """One line: "intact: N events", or where and how the chain is broken."""
        if self.ok:
            return f"intact: {self.checked} events"
        if self.first_broken_id is None:
            return f"not verified: {self.problem}"
        return (f"broken at event {self.first_broken_id}: {self.problem} "
                f"({self.checked} events before it are intact)")


def _event_problem(row: Any, last_id: int, prev_hash: str, anchors: Mapping[int, str]) -> str | None:
    if row.id != last_id + 1:
        missing = "the log does not begin at event 1" if last_id == 0 else f"event {last_id + 1} is missing"
        return f"{missing}: ids must follow one another"
    if row.prev_hash != prev_hash:
        return "does not follow the event before it"
    key = audit_keys.get(row.key_id)
    if key is None:
        return f"signed with audit key {row.key_id}, which is not among the audit keys (SAFEHAVEN_AUDIT_KEYS)"
    if not hmac.compare_digest(event_mac(key, row._mapping), row.hash):
        return "its content does not match its MAC"
    if anchors.get(row.id, row.hash) != row.hash:
        return f"anchored event {row.id} was altered: it differs from its anchor"
    return None


def verify_chain(session: Session, anchor_file: Path | None = None, batch: int = 5000) -> ChainReport:
    """Walk the whole log once, in id order, and report the first problem.

    Each event must have the id after the one before it (the first is 1), name the previous
    event's MAC, and carry a MAC that the audit key named by its `key_id` recomputes (a plain,
    unkeyed hash never passes). With `anchor_file`, every line of it must verify, every anchored
    event must still be there with the MAC anchored, and no anchored id may lie beyond the last
    event. A missing anchor file means nothing was anchored.
    """
    try:
        anchors = read_anchors(anchor_file) if anchor_file is not None else {}
    except BadAnchor as error:
        return ChainReport(False, 0, None, str(error))
    table = AuditEvent.__table__
    prev_hash, checked, last_id = GENESIS, 0, 0
    while rows := session.execute(
        select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
    ).all():
        for row in rows:
            problem = _event_problem(row, last_id, prev_hash, anchors)
            if problem is not None:
                return ChainReport(False, checked, row.id, problem)
            prev_hash, last_id = row.hash, row.id
            checked += 1
    beyond = [event_id for event_id in anchors if event_id > last_id]
    if beyond:
        missing = min(beyond)
        return ChainReport(False, checked, missing,
                           f"anchored event {missing} is missing; the log ends at event {last_id}")
    return ChainReport(True, checked)


def purge_for_demo(session: Session) -> None:
    """Empty the log of a demo database (`flask demo load --reset`), inside the caller's transaction.

    The database refuses DELETE on the log, so the guard is lifted and put back around it;
    never call this on a real deployment's database (`shelters.demo.reset` refuses one).
    """
    dialect = session.get_bind().dialect.name
    for statement in DROP_APPEND_ONLY_DDL.get(dialect, []):
        session.execute(text(statement).execution_options(no_parameters=True))
    session.execute(AuditEvent.__table__.delete())
    for statement in APPEND_ONLY_DDL.get(dialect, []):
        session.execute(text(statement).execution_options(no_parameters=True))
