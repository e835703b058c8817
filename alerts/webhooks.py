"""An organisation's webhook: each notification for one of its users, POSTed as signed JSON.

The body carries the same facts as the e-mail (alerts/notify.py: the event, the request number, the urgency,
the shelter code where the recipient may know it, minutes) plus the text in the recipient's language, the
recipient's username and the link; never a case code, profile or address. `X-SafeHaven-Signature` is
`sha256=` and the hex HMAC-SHA256 of the exact body under the organisation's secret; the body's `id` is the
notification's, the same on every retry, so the receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alerts.models import Notification

TIMEOUT_S = 10
SIGNATURE_HEADER = "X-SafeHaven-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(notification: Notification, config: Mapping[str, Any]) -> dict[str, Any]:
    from alerts.delivery import link, render

    language, subject, body = render(notification, config)
    return {"id": notification.id, "event": notification.event, **dict(notification.facts),
            "recipient": notification.user.username, "language": language, "subject": subject, "text": body,
            "link": link(notification, config), "created_at": notification.created_at.isoformat()}


def post(notification: Notification, now: datetime, config: Mapping[str, Any]) -> str | None:
    """POST the notification to its recipient's organisation's webhook; None when answered 2xx, else the error."""
    organisation = notification.user.organisation
    if organisation is None or not organisation.webhook_url:
        return "the organisation has no webhook any more"
    body = json.dumps(payload(notification, config), sort_keys=True, separators=(",", ":")).encode()
    request = urllib.request.Request(
        organisation.webhook_url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "SafeHaven-Webhook/1",
                 SIGNATURE_HEADER: sign(organisation.webhook_secret or "", body)})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310 - an https or http URL set by an admin
            if 200 <= answer.status < 300:
                return None
            return f"HTTP {answer.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return f"{type(error).__name__}: {error}"[:300]
