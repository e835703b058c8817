"""Delivering the outbox (alerts/notify.py writes it): e-mail over SMTP, and organisations' signed webhooks.

Each run claims what is due in a transaction of its own (one UPDATE: rows not sent, due, and not claimed or
whose claim ran out), commits, sends, then records each outcome. Two deliverers never claim the same row; a
deliverer killed after claiming leaves rows that another takes up once the claim (`CLAIM_SECONDS`) runs out.
A deliverer killed between sending and recording may send a message twice: its Message-ID (and the webhook's
`id`) is the notification's own, so the receiving end can tell. A failed send is tried again later each time
(`backoff`), never dropped, and raises the `system` alert `notifications` until a run delivers cleanly.

Off for e-mail until SAFEHAVEN_SMTP_HOST is set: e-mails then wait in the outbox.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flask_babel import force_locale
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

import i18n
from alerts import notify, services
from alerts.mail import DEFAULT_FROM, SMTP_TIMEOUT_S
from alerts.models import Channel, Notification
from alerts.rules import SYSTEM, Decision

CLAIM_SECONDS = 300
BATCH = 100
ALERT_SUBJECT = "notifications"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 30 s, 1 min, 2 min, ... at most an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass
class Report:
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"claimed {self.claimed}, sent {self.sent}, failed {self.failed}"


def _ready_channels(config: Mapping[str, Any]) -> list[str]:
    ready = [str(Channel.WEBHOOK)]
    if config.get("SAFEHAVEN_SMTP_HOST"):
        ready.append(str(Channel.EMAIL))
    return ready


def claim(session: Session, now: datetime, holder: str, config: Mapping[str, Any], limit: int = BATCH
          ) -> list[Notification]:
    """Claim up to `limit` due notifications for `holder` and commit the claim; returns them, oldest first."""
    free = (Notification.sent_at.is_(None), Notification.due_at <= now,
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
            Notification.channel.in_(_ready_channels(config)))
    due = select(Notification.id).where(*free).order_by(Notification.id).limit(limit).scalar_subquery()
    # The WHERE is checked again row by row as the UPDATE takes each row's lock (PostgreSQL) or under the write
    # lock (SQLite): of two deliverers racing for a row, the second finds it claimed and skips it.
    session.execute(update(Notification).where(Notification.id.in_(due), *free)
                    .values(claimed_by=holder, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
                    .execution_options(synchronize_session=False))
    session.commit()
    return list(session.scalars(
        select(Notification).options(selectinload(Notification.user))
        .where(Notification.claimed_by == holder, Notification.sent_at.is_(None),
               Notification.claimed_until > now).order_by(Notification.id)))


def _language(user: Any, config: Mapping[str, Any]) -> str:
    return (i18n.language_code(user.locale) or i18n.language_code(config.get("SAFEHAVEN_DEFAULT_LANGUAGE"))
            or "en")


def link(notification: Notification, config: Mapping[str, Any]) -> str:
    base = str(config.get("SAFEHAVEN_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    return f"{base}/placements/{notification.request_id}"


def render(notification: Notification, config: Mapping[str, Any]) -> tuple[str, str, str]:
    """(language, subject, body) of a notification, in its recipient's language. Needs an app context."""
    code = _language(notification.user, config)
    with force_locale(i18n.LOCALES[code]):
        subject, body = notify.compose(notification.event, dict(notification.facts), link(notification, config))
    return code, subject, body


def email_message(notification: Notification, now: datetime, config: Mapping[str, Any]) -> EmailMessage:
    sender = str(config.get("SAFEHAVEN_SMTP_FROM") or DEFAULT_FROM)
    code, subject, body = render(notification, config)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = str(notification.user.email)
    message["Date"] = format_datetime(now.astimezone(UTC))
    # The notification's own id: a copy sent again after a crash is recognisably the same message.
    message["Message-ID"] = f"<notification-{notification.id}@{sender.rpartition('@')[2] or 'localhost'}>"
    message.set_content(body)
    message["Content-Language"] = code
    return message


def _send_emails(notifications: Sequence[Notification], now: datetime, config: Mapping[str, Any]
                 ) -> dict[int, str | None]:
    """Send over one SMTP connection; {notification id: None when sent, else the error}."""
    outcome: dict[int, str | None] = {}
    if not notifications:
        return outcome
    host, port = str(config["SAFEHAVEN_SMTP_HOST"]), int(config.get("SAFEHAVEN_SMTP_PORT") or 25)
    try:
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as smtp:
            if config.get("SAFEHAVEN_SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SAFEHAVEN_SMTP_USER"):
                smtp.login(str(config["SAFEHAVEN_SMTP_USER"]), str(config.get("SAFEHAVEN_SMTP_PASSWORD") or ""))
            for notification in notifications:
                try:
                    smtp.send_message(email_message(notification, now, config))
                    outcome[notification.id] = None
                except smtplib.SMTPRecipientsRefused as error:
                    outcome[notification.id] = f"refused: {error}"[:300]
    except (OSError, smtplib.SMTPException) as error:
        for notification in notifications:
            outcome.setdefault(notification.id, f"{type(error).__name__}: {error}"[:300])
    return outcome


def _send_webhooks(notifications: Sequence[Notification], now: datetime, config: Mapping[str, Any]
                   ) -> dict[int, str | None]:
    from alerts import webhooks

    return {n.id: webhooks.post(n, now, config) for n in notifications}


def deliver_due(session: Session, now: datetime, config: Mapping[str, Any], holder: str) -> Report:
    """Deliver every notification due at `now`, once, as `holder`; commits the claim and then the outcomes.

    A failure is recorded on its row (tried again after `backoff`) and raises the `system` alert
    `notifications`; a run with no failure clears it. Raises nothing for a failed send. Needs an app context.
    """
    report = Report()
    while True:
        claimed = claim(session, now, holder, config)
        if not claimed:
            break
        report.claimed += len(claimed)
        outcome = _send_emails([n for n in claimed if n.channel == Channel.EMAIL], now, config)
        outcome |= _send_webhooks([n for n in claimed if n.channel == Channel.WEBHOOK], now, config)
        for notification in claimed:
            error = outcome.get(notification.id, "not sent")
            notification.claimed_by, notification.claimed_until = None, None
            if error is None:
                notification.sent_at = now
                report.sent += 1
            else:
                notification.attempts += 1
                notification.last_error = error
                notification.due_at = now + backoff(notification.attempts)
                report.failed += 1
                report.errors.append(error)
        session.commit()
    if report.failed:
        services.raise_system_alert(session, now, Decision(
            SYSTEM, "system", ALERT_SUBJECT, "critical",
            f"Notifications could not be delivered: {report.errors[0]}"[:500],
            {"job": ALERT_SUBJECT, "error": report.errors[0][:300], "failed": report.failed}))
    elif report.sent:
        services.clear_system_alert(session, now, ALERT_SUBJECT)
    session.commit()
    return report


def waiting(session: Session) -> int:
    """Notifications not sent yet."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.sent_at.is_(None))) or 0)
