"""Invariants of accounts and the audit log, for `flask check`.

Like every domain's checks: take the session, return a list of problems (one line each,
starting with a stable code); an empty list means the invariant holds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import audit
from accounts.models import ApiToken


def audit_chain_verifies(session: Session, anchor_file: Path | None) -> list[str]:
    """The keyed chain is intact from event 1 to the last and agrees with every anchor in `anchor_file`
    (the same walk as `flask audit verify`)."""
    report = audit.verify_chain(session, anchor_file)
    return [] if report.ok else [f"audit_chain: {report.finding}"]


def tokens_are_whole(session: Session) -> list[str]:
    """An API token expires after it was issued, and a revoked one was revoked after it was issued."""
    problems = []
    for token_id, created_at, expires_at, revoked_at in session.execute(
        select(ApiToken.id, ApiToken.created_at, ApiToken.expires_at, ApiToken.revoked_at).order_by(ApiToken.id)
    ):
        if expires_at <= created_at:
            problems.append(f"token_times: token {token_id} expires before it was issued")
        if revoked_at is not None and revoked_at < created_at:
            problems.append(f"token_times: token {token_id} was revoked before it was issued")
    return problems


def accounts_problems(session: Session, now: datetime) -> list[str]:
    """Every accounts invariant: an empty list when all hold."""
    del now  # none depends on the time
    anchor_file = audit.anchor_path(current_app.config, current_app.instance_path)
    return [*audit_chain_verifies(session, anchor_file), *tokens_are_whole(session)]
