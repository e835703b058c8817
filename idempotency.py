"""`Idempotency-Key` on every API POST: a retried request is answered from the record, never acted on twice.

An officer on a bad connection cannot tell whether a POST that timed out created the case or
took the bed. Sent again with the same `Idempotency-Key`, it gets the first answer back, marked
`Idempotent-Replayed: true`, and nothing is done, audited or held a second time. The semantics
follow Stripe and the IETF draft "The Idempotency-Key HTTP Header Field":

- the first request with a key records it in a transaction of its own, committed before the
  handler runs, so a concurrent duplicate meets the unique (user, key) constraint;
- when the handler is done its answer (status, body, Location) is stored: a success and a 4xx
  refusal alike (the same request would be refused the same way), but not a 5xx, whose record is
  dropped so that a retry acts afresh;
- the same key with another request (method, path, query or body) is 422 `idempotency_key_reused`;
  the same key while the first is still being handled is 409 `idempotency_in_progress`;
- keys belong to a user; a record lasts `SAFEHAVEN_IDEMPOTENCY_HOURS` (24), after which the key is
  free again, and the retention job deletes it.

A process killed between the handler's commit and storing the answer leaves the key in progress;
after `ABANDONED_AFTER` (far beyond any worker timeout) such a key is taken as abandoned and the
request is handled again.

The hooks are attached to every API blueprint by `rest.api_blueprint`, after the bearer sign-in;
`IdempotencyKeyPlugin` documents the header on every POST of the OpenAPI document.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

from apispec import BasePlugin
from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from accounts.models import IdempotencyKey
from database import utcnow
from extensions import db
from rest import error_response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_HOURS = 24
ABANDONED_AFTER = timedelta(minutes=10)
# 1 to 255 printable ASCII characters (space included inside; HTTP trims it at the ends).
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
_ENVIRON = "safehaven.idempotency_key_id"


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """SHA-256 over method, path, query and body; a JSON body counts by its content, not its spacing."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:  # not JSON (or empty): the bytes as sent
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed, so no two splits hash alike
        digest.update(part)
    return digest.hexdigest()


def expiry_cutoff(now: datetime, hours: int) -> datetime:
    return now - timedelta(hours=hours)


def purge_expired_keys(session: Session, now: datetime, hours: int = DEFAULT_HOURS) -> int:
    """Delete the records older than `hours`; their keys are free again. Returns how many went. The caller commits."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < expiry_cutoff(now, hours))
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def _hours() -> int:
    return int(current_app.config.get("SAFEHAVEN_IDEMPOTENCY_HOURS") or DEFAULT_HOURS)


def _replay(record: IdempotencyKey) -> Response:
    response = Response(record.response_body or "", status=record.status_code, mimetype="application/json")
    if record.location:
        response.headers["Location"] = record.location
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _claim(session: Session, user_id: int, key: str, fingerprint: str, now: datetime) -> IdempotencyKey | int:
    """Record the key as in progress (committed) and return its id, or return the existing record.

    An existing record that expired, or that stayed in progress past ABANDONED_AFTER, is deleted
    and the key claimed afresh.
    """
    for _ in range(3):
        record = IdempotencyKey(user_id=user_id, key=key, request_hash=fingerprint, created_at=now)
        session.add(record)
        try:
            session.flush()
            record_id = record.id
            session.commit()
            return record_id
        except IntegrityError:
            session.rollback()
        existing = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                               IdempotencyKey.key == key))
        if existing is None:  # purged between our insert and this read: try again
            continue
        stale = existing.created_at < expiry_cutoff(now, _hours()) or (
            existing.status_code is None and existing.created_at < now - ABANDONED_AFTER)
        if not stale:
            return existing
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == existing.id))
        session.commit()
    raise RuntimeError(f"could not claim the idempotency key of user {user_id}")


def before_api_request() -> Response | None:
    """before_request of the API blueprints (after the bearer sign-in): claim the key, or answer from the record."""
    if request.method != "POST" or HEADER not in request.headers:
        return None
    user = getattr(g, "api_user", None)
    if user is None:
        return None
    key = request.headers[HEADER]
    if not KEY_PATTERN.fullmatch(key):
        return error_response(400, "bad_request", f"{HEADER} must be 1 to 255 printable ASCII characters",
                              {HEADER: ["1 to 255 printable ASCII characters"]})
    fingerprint = request_fingerprint(request.method, request.path, request.query_string,
                                      request.get_data(cache=True))
    claimed = _claim(db.session, user.id, key, fingerprint, utcnow())
    if isinstance(claimed, int):
        request.environ[_ENVIRON] = claimed
        return None
    if claimed.request_hash != fingerprint:
        response = error_response(422, "idempotency_key_reused",
                                  f"this {HEADER} was used for a different request; use a new key for a new request",
                                  {HEADER: ["used for a different request"]})
    elif claimed.status_code is None:
        response = error_response(409, "idempotency_in_progress",
                                  f"a request with this {HEADER} is still being handled; retry shortly")
        response.headers["Retry-After"] = "1"
    else:
        response = _replay(claimed)
    db.session.rollback()
    return response


def after_api_request(response: Response) -> Response:
    """after_request of the API blueprints: store the answer to a claimed key (or free the key after a 5xx)."""
    record_id = request.environ.pop(_ENVIRON, None)
    if record_id is None:
        return response
    session = db.session
    # Whatever the handler left uncommitted was never to be kept (it commits what it means to).
    session.rollback()
    if response.status_code >= 500:
        try:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
            session.commit()
        except SQLAlchemyError:
            # The database is away (the 503 says so): the claim stays until it counts as abandoned
            # (ABANDONED_AFTER), and the client gets its 503 rather than a traceback.
            session.rollback()
        return response
    else:
        record = session.get(IdempotencyKey, record_id)
        if record is not None:
            record.status_code = response.status_code
            record.response_body = response.get_data(as_text=True)
            record.location = response.headers.get("Location")
    session.commit()
    return response


def teardown_api_request(error: BaseException | None) -> None:
    """teardown_request of the API blueprints: a request that died before after_request frees its key."""
    record_id = request.environ.pop(_ENVIRON, None)
    if record_id is None:
        return
    session = db.session
    session.rollback()
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
    session.commit()


class IdempotencyKeyPlugin(BasePlugin):
    """apispec plugin: the optional `Idempotency-Key` header on every POST operation."""

    def init_spec(self, spec) -> None:
        self.spec = spec
        spec.components.parameter("IdempotencyKey", "header", {
            "name": HEADER,
            "required": False,
            "description": (
                "Makes the POST safe to retry: the first answer (status, body, Location) is kept for "
                "SAFEHAVEN_IDEMPOTENCY_HOURS and a retry with the same key and the same request gets it "
                "again with `Idempotent-Replayed: true`, without acting twice. The same key with another "
                "request is 422 `idempotency_key_reused`; while the first is still handled, 409 "
                "`idempotency_in_progress`. Keys are per user; a UUID per logical request is a good key."),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
        })

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        post = (operations or {}).get("post")
        if post is not None:
            post.setdefault("parameters", []).append("IdempotencyKey")  # apispec makes it a $ref
