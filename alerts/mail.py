"""The daily e-mail digest of open alerts, sent over SMTP to the secretariat.

Plain text, one line per alert: severity, kind, subject, message and since
when. Alerts name shelters, regions, request ids and job names, never a
victim; nothing else goes into the mail. Off unless SAFEHAVEN_SMTP_HOST and
SAFEHAVEN_SMTP_TO are set. SMTP failures propagate, so the scheduler records
a failed run as a `system` alert.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy.orm import Session

from alerts import services
from alerts.models import Alert, AlertStatus

DEFAULT_FROM = "safehaven@localhost"
SMTP_TIMEOUT_S = 30


def recipients(config: Mapping[str, Any]) -> list[str]:
    """SAFEHAVEN_SMTP_TO as a list, whether configured as a list or a comma-separated string."""
    raw = config.get("SAFEHAVEN_SMTP_TO") or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [address.strip() for address in raw if address and address.strip()]


def is_configured(config: Mapping[str, Any]) -> bool:
    return bool(config.get("SAFEHAVEN_SMTP_HOST")) and bool(recipients(config))


def _since(at: datetime, now: datetime) -> str:
    days = max(0, (now - at).days)
    age = "today" if days == 0 else ("1 day ago" if days == 1 else f"{days} days ago")
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({age})"


def compose(alerts: Sequence[Alert], now: datetime) -> tuple[str, str]:
    """The subject and plain-text body listing `alerts` (most severe, then oldest, first)."""
    count = len(alerts)
    subject = f"Safe Haven: {count} open {'alert' if count == 1 else 'alerts'} ({now.astimezone(UTC):%Y-%m-%d})"
    lines = [
        f"Open alerts as of {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {count}.",
        "Acknowledge them, note the action taken and resolve them on the Alerts page of Safe Haven.",
        "",
    ]
    for alert in alerts:
        lines.append(f"[{alert.severity.upper()}] {alert.kind} · {alert.subject_type} {alert.subject}")
        lines.append(f"  {alert.message}")
        lines.append(f"  open since {_since(alert.first_seen, now)}, alert #{alert.id}")
        lines.append("")
    lines.append("This digest lists alerts only: it holds no victim data.")
    return subject, "\n".join(lines) + "\n"


def send_digest(session: Session, now: datetime, config: Mapping[str, Any]) -> int:
    """Mail the open alerts to SAFEHAVEN_SMTP_TO; returns how many were listed.

    0 and no mail when SMTP is not configured or nothing is open.
    """
    if not is_configured(config):
        return 0
    alerts = services.list_alerts(session, AlertStatus.OPEN)
    if not alerts:
        return 0
    to = recipients(config)
    subject, body = compose(alerts, now)
    sender = config.get("SAFEHAVEN_SMTP_FROM") or DEFAULT_FROM
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)

    host, port = str(config["SAFEHAVEN_SMTP_HOST"]), int(config.get("SAFEHAVEN_SMTP_PORT") or 25)
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as smtp:
        if config.get("SAFEHAVEN_SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SAFEHAVEN_SMTP_USER"):
            smtp.login(str(config["SAFEHAVEN_SMTP_USER"]), str(config.get("SAFEHAVEN_SMTP_PASSWORD") or ""))
        smtp.send_message(message, from_addr=sender, to_addrs=to)
    return len(alerts)
