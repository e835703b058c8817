"""The daily e-mail digest of open alerts, sent over SMTP to the secretariat.

Plain text, one line per alert: severity, kind, subject, the alert's text and
since when. Alerts name shelters, regions, request ids and job names, never a
victim; nothing else goes into the mail. Off unless SAFEHAVEN_SMTP_HOST and
SAFEHAVEN_SMTP_TO are set. SMTP failures propagate, so the scheduler records
a failed run as a `system` alert.

Each recipient reads the digest in their own language, and its times in their own zone when their user has
one (users.timezone), else SAFEHAVEN_TIMEZONE. Users have no e-mail
address of their own, so a SAFEHAVEN_SMTP_TO entry may name the user it is for
as its display name, `secretariat <ats@example.org>`: that user's language
(users.locale) is used, else SAFEHAVEN_DEFAULT_LANGUAGE. Recipients who read
the same language share one message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

import i18n
from accounts.models import User
from alerts import services, texts
from alerts.models import Alert, AlertStatus
from i18n import format_day, format_when

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


@dataclass(frozen=True)
class Recipient:
    """One SAFEHAVEN_SMTP_TO entry: the address mail goes to, as written, and the user named with it."""

    address: str
    written: str
    username: str | None


def parse_recipients(config: Mapping[str, Any]) -> list[Recipient]:
    """The recipients, each `address` or `username <address>`."""
    found = []
    for entry in recipients(config):
        name, address = parseaddr(entry)
        if address:
            found.append(Recipient(address, entry, name.strip() or None))
    return found


def languages(session: Session, to: Sequence[Recipient], default: str) -> dict[str, list[Recipient]]:
    """The recipients by the language ("sq", "sr", "en") they read: their user's, else `default`."""
    names = {r.username for r in to if r.username}
    chosen = dict(session.execute(select(User.username, User.locale).where(User.username.in_(names))).all()
                  ) if names else {}
    by_language: dict[str, list[Recipient]] = {}
    for recipient in to:
        code = i18n.language_code(chosen.get(recipient.username or "")) or default
        by_language.setdefault(code, []).append(recipient)
    return by_language


def _since(at: datetime, now: datetime, alert_id: int) -> str:
    days = max(0, (now - at).days)
    if days == 0:
        return _("open since %(when)s (today), alert #%(id)s", when=format_when(at), id=alert_id)
    return ngettext("open since %(when)s (%(num)d day ago), alert #%(id)s",
                    "open since %(when)s (%(num)d days ago), alert #%(id)s", days, when=format_when(at), id=alert_id)


def compose(alerts: Sequence[Alert], now: datetime) -> tuple[str, str]:
    """The subject and plain-text body listing `alerts` (most severe, then oldest, first), in the current locale."""
    count = len(alerts)
    subject = ngettext("Safe Haven: %(num)d open alert (%(day)s)", "Safe Haven: %(num)d open alerts (%(day)s)",
                       count, day=format_day(now))
    lines = [
        _("Open alerts as of %(when)s: %(count)s.", when=format_when(now), count=count),
        _("Acknowledge them, note the action taken and resolve them on the Alerts page of Safe Haven."),
        "",
    ]
    for alert in alerts:
        lines.append(f"[{texts.severity_label(alert.severity).upper()}] {texts.kind_label(alert.kind)} · "
                     f"{texts.subject_label(alert)}")
        lines.append(f"  {texts.describe(alert)}")
        lines.append(f"  {_since(alert.first_seen, now, alert.id)}")
        lines.append("")
    lines.append(_("This digest lists alerts only: it holds no victim data."))
    return subject, "\n".join(lines) + "\n"


def send_digest(session: Session, now: datetime, config: Mapping[str, Any]) -> int:
    """Mail the open alerts to SAFEHAVEN_SMTP_TO, each recipient in their language; returns how many were listed.

    0 and no mail when SMTP is not configured or nothing is open. Needs an app context (the catalogues).
    """
    if not is_configured(config):
        return 0
    alerts = services.list_alerts(session, AlertStatus.OPEN)
    if not alerts:
        return 0
    default = i18n.language_code(config.get("SAFEHAVEN_DEFAULT_LANGUAGE")) or "en"
    sender = config.get("SAFEHAVEN_SMTP_FROM") or DEFAULT_FROM
    messages = []
    every = parse_recipients(config)
    names = {r.username for r in every if r.username}
    # A recipient whose user chose a time zone reads the times in it (one message per language and zone).
    zones = dict(session.execute(select(User.username, User.timezone).where(User.username.in_(names))).all()
                 ) if names else {}
    groups = [(code, zone, [r for r in to if (zones.get(r.username or "") or "") == zone])
              for code, to in languages(session, every, default).items()
              for zone in dict.fromkeys(zones.get(r.username or "") or "" for r in to)]
    for code, zone, to in groups:
        with force_locale(i18n.LOCALES[code]), i18n.force_zone(zone or None):
            subject, body = compose(alerts, now)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = sender
        message["To"] = ", ".join(r.written for r in to)
        message["Date"] = format_datetime(now.astimezone(UTC))
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        message.set_content(body)
        message["Content-Language"] = code  # after set_content, which drops Content-* headers
        messages.append((message, [r.address for r in to]))

    host, port = str(config["SAFEHAVEN_SMTP_HOST"]), int(config.get("SAFEHAVEN_SMTP_PORT") or 25)
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as smtp:
        if config.get("SAFEHAVEN_SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SAFEHAVEN_SMTP_USER"):
            smtp.login(str(config["SAFEHAVEN_SMTP_USER"]), str(config.get("SAFEHAVEN_SMTP_PASSWORD") or ""))
        for message, addresses in messages:
            smtp.send_message(message, from_addr=sender, to_addrs=addresses)
    return len(alerts)
