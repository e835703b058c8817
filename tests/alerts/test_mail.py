"""The e-mail digest, sent to a real SMTP server (aiosmtpd) listening on 127.0.0.1: no mocks."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from babel.dates import format_skeleton
from sqlalchemy import select

from accounts.models import User
from alerts import jobs, mail, scheduler, services
from alerts.models import Alert
from alerts.rules import Thresholds
from config import Config
from extensions import db
from shelters import demo
from shelters.models import Case

TO = ["ats@secretariat.example", "duty@secretariat.example"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content or e.content, policy=email.policy.default)
                for e in self.envelopes]

    def text(self, index: int = -1) -> str:
        """A message's body with the wire's CRLF line ends made plain."""
        return self.messages()[index].get_content().replace("\r\n", "\n")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def cable(app, now):
    demo.load(db.session, now)
    db.session.commit()
    jobs.evaluate_alerts(db.session, now, Thresholds())
    db.session.commit()


def settings(port: int, **extra) -> dict:
    return {"SAFEHAVEN_SMTP_HOST": "127.0.0.1", "SAFEHAVEN_SMTP_PORT": port, "SAFEHAVEN_SMTP_TO": TO,
            "SAFEHAVEN_SMTP_FROM": "safehaven@ministry.example"} | extra


def test_the_digest_lists_the_open_alerts_to_the_secretariat(smtp, cable, now):
    inbox, port = smtp
    open_alerts = services.list_alerts(db.session, "open")
    listed = mail.send_digest(db.session, now, settings(port))
    assert listed == len(open_alerts) >= 3

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "safehaven@ministry.example"
    assert envelope.rcpt_tos == TO
    (message,) = inbox.messages()
    assert message["Subject"] == f"Safe Haven: {listed} open alerts ({now:%b} {now.day}, {now.year})"
    assert message["To"] == ", ".join(TO) and message["From"] == "safehaven@ministry.example"
    assert message.get_content_type() == "text/plain"
    text = inbox.text()
    assert "[WARNING] Unused shelter · Shelter HAH\n  HAH unused for 143 days\n  open since " in text
    assert "[WARNING] Unused shelter · Shelter ISF\n  ISF never used\n" in text
    assert "Identifications down 25% year over year (24 vs 32)" in text
    # Alerts only: no case code, no address, no victim detail.
    codes = set(db.session.scalars(select(Case.code)))
    assert codes and not any(code in text for code in codes)
    assert "illustrative" not in text and "Rruga" not in text


def test_each_recipient_reads_the_digest_in_their_language(smtp, cable, now):
    inbox, port = smtp
    secretariat = db.session.scalar(select(User).where(User.username == "secretariat"))
    secretariat.locale = "sr"
    db.session.commit()
    to = ["secretariat <ats@secretariat.example>", "duty@secretariat.example"]
    listed = mail.send_digest(db.session, now, settings(port, SAFEHAVEN_SMTP_TO=to))

    assert sorted(e.rcpt_tos for e in inbox.envelopes) == [["ats@secretariat.example"], ["duty@secretariat.example"]]
    by_recipient = {e.rcpt_tos[0]: i for i, e in enumerate(inbox.envelopes)}
    serbian, english = by_recipient["ats@secretariat.example"], by_recipient["duty@secretariat.example"]

    message = inbox.messages()[serbian]
    assert message["Content-Language"] == "sr" and message["To"] == "secretariat <ats@secretariat.example>"
    assert message["Subject"] == (f"Safe Haven: {listed} otvorenih upozorenja "
                                  f"({format_skeleton('yMMMd', now, locale='sr_Latn')})")
    text = inbox.text(serbian)
    assert "[PAŽNJA] Nekorišćeno sklonište · Sklonište HAH\n  Sklonište HAH nije korišćeno 143 dana\n" in text
    assert "Sklonište ISF nikada nije korišćeno" in text
    assert "Broj identifikacija je pao za 25% u odnosu na prethodnu godinu (24 naspram 32)" in text
    assert "Ovaj pregled navodi samo upozorenja: ne sadrži podatke o žrtvama." in text
    assert "HAH unused for 143 days" not in text and "open since" not in text

    assert inbox.messages()[english]["Subject"] == f"Safe Haven: {listed} open alerts ({now:%b} {now.day}, {now.year})"
    text = inbox.text(english)
    assert "HAH unused for 143 days" in text and "Identifications down 25% year over year (24 vs 32)" in text
    assert "Sklonište" not in text


def test_recipients_without_a_language_get_the_default_one(smtp, cable, now):
    inbox, port = smtp
    to = ["nobody-by-that-name <a@secretariat.example>", "b@secretariat.example"]
    mail.send_digest(db.session, now, settings(port, SAFEHAVEN_SMTP_TO=to, SAFEHAVEN_DEFAULT_LANGUAGE="sq"))
    (envelope,) = inbox.envelopes
    assert envelope.rcpt_tos == ["a@secretariat.example", "b@secretariat.example"]
    assert inbox.messages()[0]["Content-Language"] == "sq"
    assert "Strehimorja HAH e papërdorur prej 143 ditësh" in inbox.text()


def test_acknowledged_and_resolved_alerts_are_left_out(smtp, cable, now):
    inbox, port = smtp
    secretariat = db.session.scalar(select(User).where(User.username == "secretariat"))
    by_subject = {(a.kind, a.subject): a for a in services.list_alerts(db.session, "open")}
    services.acknowledge(db.session, secretariat, now, by_subject[("unused_facility", "HAH")])
    services.resolve(db.session, secretariat, now, by_subject[("unused_facility", "ISF")], "Planned.")
    db.session.commit()
    listed = mail.send_digest(db.session, now, settings(port))
    assert listed == services.open_counts(db.session)
    text = inbox.text()
    assert "HAH unused for 143 days" not in text and "ISF never used" not in text
    assert "Identifications down 25%" in text


def test_no_mail_when_nothing_is_open(smtp, app, now):
    inbox, port = smtp
    assert mail.send_digest(db.session, now, settings(port)) == 0
    assert inbox.envelopes == []


@pytest.mark.parametrize("missing", ["SAFEHAVEN_SMTP_HOST", "SAFEHAVEN_SMTP_TO"])
def test_no_mail_unless_host_and_recipients_are_set(smtp, cable, now, missing):
    inbox, port = smtp
    assert mail.send_digest(db.session, now, settings(port, **{missing: None})) == 0
    assert mail.send_digest(db.session, now, settings(port, **{missing: ""})) == 0
    assert inbox.envelopes == []


def test_the_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SAFEHAVEN_SMTP_HOST", "mail.example")
    monkeypatch.setenv("SAFEHAVEN_SMTP_TO", " a@example.org, b@example.org ,")
    monkeypatch.setenv("SAFEHAVEN_SMTP_STARTTLS", "yes")
    config = Config()
    assert (config.SAFEHAVEN_SMTP_HOST, config.SAFEHAVEN_SMTP_PORT) == ("mail.example", 25)
    assert config.SAFEHAVEN_SMTP_TO == ["a@example.org", "b@example.org"]
    assert config.SAFEHAVEN_SMTP_STARTTLS is True and config.SAFEHAVEN_SMTP_USER is None
    assert mail.is_configured(vars(config))
    monkeypatch.delenv("SAFEHAVEN_SMTP_TO")
    assert Config().SAFEHAVEN_SMTP_TO == [] and not mail.is_configured(vars(Config()))
    assert mail.recipients({"SAFEHAVEN_SMTP_TO": "x@example.org,y@example.org"}) == ["x@example.org", "y@example.org"]


def test_the_daily_job_sends_it_and_a_failure_becomes_a_system_alert(smtp, app, cable, now):
    inbox, port = smtp
    assert scheduler.JOBS["digest"].trigger == "cron"
    app.config.update(settings(port))
    expected = services.open_counts(db.session)
    db.session.commit()  # SQLite: the jobs write from their own session, so this one holds no transaction
    run = scheduler.run_job(app, "digest", now)
    assert run.ok and run.result == expected and len(inbox.envelopes) == 1

    app.config["SAFEHAVEN_SMTP_PORT"] = free_port()  # nobody listens there
    failed = scheduler.run_job(app, "digest", now + timedelta(days=1))
    assert not failed.ok and len(inbox.envelopes) == 1
    (alert,) = db.session.scalars(select(Alert).where(Alert.kind == "system", Alert.subject == "digest"))
    assert (alert.status, alert.severity) == ("open", "critical")
    db.session.commit()

    app.config["SAFEHAVEN_SMTP_PORT"] = port
    assert scheduler.run_job(app, "digest", now + timedelta(days=2)).ok
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "resolved"
    # The system alert was open when the digest went out, so it is in the mail.
    assert "The scheduled job 'digest' failed" in inbox.text()
