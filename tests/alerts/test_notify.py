"""Notifications, end to end: placement events written to the outbox, delivered to a real SMTP server (aiosmtpd)
and a real HTTP receiver, each to exactly the right people, once, in their language, with nothing that may
not leave the building. Time is passed in."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from accounts import services as accounts
from alerts import delivery, notify, scheduler
from alerts.models import Alert, Notification
from extensions import db
from placement import services as placement
from tests.alerts.test_mail import Inbox, free_port

ADDRESS = "Rruga e Fshehtë 7"


@pytest.fixture
def smtp(app) -> Iterator[Inbox]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SAFEHAVEN_SMTP_HOST="127.0.0.1", SAFEHAVEN_SMTP_PORT=port,
                      SAFEHAVEN_SMTP_FROM="safehaven@ministry.example", SAFEHAVEN_BASE_URL="https://safehaven.example")
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def settings(app) -> placement.Settings:
    return placement.Settings.from_config(current_app.config)


@pytest.fixture
def world(make):
    """A shelter with two managers (Albanian, Serbian), a manager elsewhere, two officers, the secretariat."""
    shelter = make.shelter("HAH", address=ADDRESS, telephone="+383 38 000 000", capacity=10)
    other = make.shelter("PVPT")
    people = {
        "m_sq": make.manager(shelter, email="m.sq@shelter.example", locale="sq"),
        "m_sr": make.manager(shelter, email="m.sr@shelter.example", locale="sr"),
        "m_other": make.manager(other, email="m.other@shelter.example"),
        "officer": make.user("police", email="officer@police.example", locale="en"),
        "officer2": make.user("police", email="officer2@police.example"),
        "sec": make.user("secretariat", email="duty@secretariat.example", locale="sq"),
    }
    db.session.commit()
    return shelter, other, people


def deliver(now, holder: str = "test") -> delivery.Report:
    return delivery.deliver_due(db.session, now, current_app.config, holder)


def by_recipient(inbox: Inbox) -> dict[str, list]:
    found: dict[str, list] = {}
    for message in inbox.messages():
        found.setdefault(str(message["To"]), []).append(message)
    return found


def assert_nothing_forbidden(inbox: Inbox, case, *, shelter_hidden_from=()) -> None:
    for message in inbox.messages():
        text = str(message["Subject"]) + message.get_content()
        for forbidden in (case.code, ADDRESS, "+383", case.nationality, "Test shelter"):
            assert forbidden not in text, (forbidden, text)
        if str(message["To"]) in shelter_hidden_from:
            assert "HAH" not in text, text


def test_each_event_reaches_exactly_the_right_people_once_in_their_language(world, smtp, make, now, settings):
    shelter, _other, p = world
    case = make.case(p["officer"])
    request = placement.create_request(db.session, p["officer"], now, case, settings, urgency="emergency")
    placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.commit()
    assert deliver(now).sent == 2
    assert deliver(now).claimed == 0  # once
    got = by_recipient(smtp)
    assert set(got) == {"m.sq@shelter.example", "m.sr@shelter.example"}
    sq, sr = got["m.sq@shelter.example"][0], got["m.sr@shelter.example"][0]
    assert (sq["Content-Language"], sr["Content-Language"]) == ("sq", "sr")
    for message, locale in ((sq, "sq"), (sr, "sr_Latn")):
        with force_locale(locale):
            subject, body = notify.compose("reserved", {"request": request.id, "urgency": "emergency",
                                                        "shelter": "HAH"}, f"https://safehaven.example/placements/{request.id}")
        assert str(message["Subject"]) == subject and message.get_content().replace("\r\n", "\n") == body
    with force_locale("en"):
        english, _ = notify.compose("reserved", {"request": request.id, "urgency": "emergency", "shelter": "HAH"}, "")
    assert str(sq["Subject"]) != english and str(sr["Subject"]) != english
    assert f"https://safehaven.example/placements/{request.id}" in sq.get_content()

    placement.accept(db.session, p["m_sq"], now, request, settings)
    db.session.commit()
    deliver(now)
    (accepted,) = by_recipient(smtp)["officer@police.example"]
    assert "HAH" in accepted.get_content()  # the officer may know the shelter while it holds the bed
    placement.admit(db.session, p["m_sq"], now, request)
    db.session.commit()
    deliver(now)
    admitted = by_recipient(smtp)["officer@police.example"][1]
    assert str(admitted["Subject"]) == f"[Safe Haven] Request {request.id}: admitted"
    assert len(smtp.messages()) == 4
    assert_nothing_forbidden(smtp, case)
    assert "HAH" not in admitted.get_content()  # never after the admission


def test_rejected_and_expired_tell_the_officer_without_the_shelter(world, smtp, make, now, settings):
    shelter, _other, p = world
    case = make.case(p["officer2"])
    request = placement.create_request(db.session, p["officer2"], now, case, settings)
    placement.reserve(db.session, p["officer2"], now, request, "HAH", settings)
    placement.reject(db.session, p["m_sr"], now, request, "no room for a family")
    placement.reserve(db.session, p["officer2"], now, request, "HAH", settings)
    db.session.commit()
    later = now + settings.hold + timedelta(minutes=1)
    placement.expire_holds(db.session, later)
    db.session.commit()
    deliver(later)
    officer_mail = by_recipient(smtp)["officer2@police.example"]
    assert [str(m["Subject"]) for m in officer_mail] == [
        f"[Safe Haven] Request {request.id}: the shelter declined",
        f"[Safe Haven] Request {request.id}: the held bed ran out"]
    assert len(by_recipient(smtp)["m.sq@shelter.example"]) == 2  # two reservations
    assert "m.other@shelter.example" not in by_recipient(smtp)
    assert "duty@secretariat.example" not in by_recipient(smtp)  # urgent: escalation is the clock's, not here
    assert_nothing_forbidden(smtp, case, shelter_hidden_from={"officer2@police.example"})
    assert "no room for a family" not in "".join(m.get_content() for m in smtp.messages())


def test_a_rolled_back_event_notifies_nobody(world, smtp, make, now, settings):
    _shelter, _other, p = world
    request = placement.create_request(db.session, p["officer"], now, make.case(p["officer"]), settings)
    db.session.commit()
    placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.rollback()
    assert deliver(now).claimed == 0 and smtp.messages() == []


def test_an_smtp_outage_loses_nothing_raises_a_system_alert_and_recovers(world, make, now, settings, app):
    _shelter, _other, p = world
    port = free_port()  # nobody listens there yet
    app.config.update(SAFEHAVEN_SMTP_HOST="127.0.0.1", SAFEHAVEN_SMTP_PORT=port)
    request = placement.create_request(db.session, p["officer"], now, make.case(p["officer"]), settings)
    placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.commit()
    report = deliver(now)
    assert (report.sent, report.failed) == (0, 2)
    (alert,) = db.session.scalars(select(Alert).where(Alert.kind == "system", Alert.subject == "notifications"))
    assert alert.status == "open"
    rows = db.session.scalars(select(Notification)).all()
    assert all(r.sent_at is None and r.attempts == 1 and r.due_at == now + timedelta(seconds=30) for r in rows)
    assert deliver(now + timedelta(seconds=10)).claimed == 0  # backing off
    assert deliver(now + timedelta(seconds=31)).failed == 2
    assert {r.due_at for r in db.session.scalars(select(Notification))} == {now + timedelta(seconds=91)}

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert deliver(now + timedelta(minutes=2)).sent == 2
        assert deliver(now + timedelta(minutes=3)).claimed == 0
    finally:
        controller.stop()
    assert sorted(str(m["To"]) for m in inbox.messages()) == ["m.sq@shelter.example", "m.sr@shelter.example"]
    db.session.refresh(alert)
    assert alert.status == "resolved"


def test_a_killed_deliverer_s_claim_runs_out_and_another_sends_once(world, smtp, make, now, settings):
    _shelter, _other, p = world
    request = placement.create_request(db.session, p["officer"], now, make.case(p["officer"]), settings)
    placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.commit()
    assert len(delivery.claim(db.session, now, "killed", current_app.config)) == 2  # then it dies, sending nothing
    assert deliver(now + timedelta(seconds=60), "standby").claimed == 0
    assert deliver(now + timedelta(seconds=delivery.CLAIM_SECONDS + 1), "standby").sent == 2
    assert deliver(now + timedelta(seconds=delivery.CLAIM_SECONDS + 2), "standby").claimed == 0
    assert len(smtp.messages()) == 2


def test_two_deliverers_at_once_send_each_message_once(world, smtp, make, now, settings, app):
    _shelter, _other, p = world
    for _ in range(6):
        request = placement.create_request(db.session, p["officer"], now, make.case(p["officer"]), settings)
        placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.commit()
    reports: list[delivery.Report] = []
    start = threading.Barrier(2)

    def run(holder: str) -> None:
        with app.app_context():
            start.wait()
            reports.append(deliver(now, holder))
            db.session.remove()

    threads = [threading.Thread(target=run, args=(f"d{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 12 and sum(r.failed for r in reports) == 0
    ids = [m["Message-ID"] for m in smtp.messages()]
    assert len(ids) == 12 and len(set(ids)) == 12


@pytest.mark.parametrize(("urgency", "minutes"), [("emergency", 15), ("urgent", 60)])
def test_an_unanswered_request_escalates_to_the_secretariat_on_time(world, smtp, make, now, settings, runner,
                                                                    urgency, minutes):
    _shelter, _other, p = world
    make.user("secretariat", email="night@secretariat.example")
    case = make.case(p["officer"])
    request = placement.create_request(db.session, p["officer"], now, case, settings, urgency=urgency)
    db.session.commit()

    def run(at) -> str:
        result = runner.invoke(args=["notifications", "deliver", "--at", at.isoformat()])
        assert result.exit_code == 0, result.output
        return result.output

    run(now + timedelta(minutes=minutes - 1))
    assert smtp.messages() == []
    assert db.session.scalars(select(Alert).where(Alert.kind == "placement_unanswered")).all() == []
    assert "sent 2" in run(now + timedelta(minutes=minutes))
    assert sorted(str(m["To"]) for m in smtp.messages()) == ["duty@secretariat.example", "night@secretariat.example"]
    (alert,) = db.session.scalars(select(Alert).where(Alert.kind == "placement_unanswered"))
    assert (alert.subject, alert.status) == (str(request.id), "open")
    run(now + timedelta(minutes=minutes + 5))
    assert len(smtp.messages()) == 2  # once per request
    assert_nothing_forbidden(smtp, case)
    english = by_recipient(smtp)["night@secretariat.example"][0]
    assert str(english["Subject"]) == (f"[Safe Haven] Request {request.id} ({urgency}) unanswered for "
                                       f"{minutes} min")


def test_managers_hear_of_a_hold_about_to_run_out_once(world, smtp, make, now, settings):
    _shelter, _other, p = world
    request = placement.create_request(db.session, p["officer"], now, make.case(p["officer"]), settings,
                                       urgency="routine")
    placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.commit()
    deliver(now)
    smtp.envelopes.clear()
    ends = now + settings.hold
    for at in (ends - timedelta(minutes=31), ends - timedelta(minutes=29), ends - timedelta(minutes=10)):
        notify.scan(db.session, at, current_app.config)
        db.session.commit()
        deliver(at)
    assert sorted(str(m["To"]) for m in smtp.messages()) == ["m.sq@shelter.example", "m.sr@shelter.example"]
    assert all("HAH" in m.get_content() for m in smtp.messages())


def test_the_scheduler_job_delivers(world, smtp, make, now, settings, app):
    _shelter, _other, p = world
    request = placement.create_request(db.session, p["officer"], now, make.case(p["officer"]), settings)
    placement.reserve(db.session, p["officer"], now, request, "HAH", settings)
    db.session.commit()
    (run,) = scheduler.tick(app, now, "holder-1", names=["notify"])
    assert run.ok and "sent 2" in run.result
    assert len(smtp.messages()) == 2


def test_users_get_an_e_mail_address_from_the_cli_and_the_api(app, runner, make, api_as):
    result = runner.invoke(args=["users", "create", "ana", "--role", "police", "--email", "ana@police.example"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "create", "bad", "--role", "police", "--email", "not an address"],
                           input="a long enough password\n")
    assert result.exit_code != 0 and "E-mail address" in result.output
    admin = make.user("admin")
    api = api_as(admin)
    answer = api.post("/users", json={"username": "dora", "password": "a long enough password", "role": "police",
                                      "email": "dora@police.example"})
    assert answer.status_code == 201 and answer.json["email"] == "dora@police.example"
    answer = api.post("/users", json={"username": "eve", "password": "a long enough password", "role": "police",
                                      "email": "eve@"})
    assert answer.status_code == 422 and "email" in answer.json["error"]["fields"]
    emails = dict(db.session.execute(select(accounts.User.username, accounts.User.email)).all())
    assert emails["ana"] == "ana@police.example" and "bad" not in emails and "eve" not in emails
    assert runner.invoke(args=["users", "email", "dora", "dora@ministry.example"]).exit_code == 0
    assert runner.invoke(args=["users", "email", "dora", "nope"]).exit_code != 0
    assert runner.invoke(args=["users", "email", "ana"]).exit_code == 0
    db.session.expire_all()
    emails = dict(db.session.execute(select(accounts.User.username, accounts.User.email)).all())
    assert (emails["dora"], emails["ana"]) == ("dora@ministry.example", None)


# --- the webhook, against a real HTTP server -------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers, body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", handler
    finally:
        server.shutdown()
        server.server_close()


def test_an_organisation_s_webhook_gets_signed_json_with_the_same_content_rules(make, now, settings, runner,
                                                                                 receiver):
    url, handler = receiver
    ministry = make.org(code="MPB", kind="police")
    secret = "s3cret-shared-with-the-sms-gateway"
    result = runner.invoke(args=["users", "webhook", "MPB", url], input=secret + "\n")
    assert result.exit_code == 0, result.output
    officer = make.user("police", org=ministry, locale="sr")  # no e-mail: the webhook alone
    shelter = make.shelter("HAH", address=ADDRESS)
    manager = make.manager(shelter)
    case = make.case(officer)
    request = placement.create_request(db.session, officer, now, case, settings)
    placement.reserve(db.session, officer, now, request, "HAH", settings)
    placement.reject(db.session, manager, now, request, "full")
    db.session.commit()

    handler.status = 503
    assert deliver(now).failed == 1
    handler.status = 200
    assert deliver(now + timedelta(seconds=31)).sent == 1
    assert deliver(now + timedelta(seconds=60)).claimed == 0
    assert len(handler.received) == 2  # the refused attempt, then the delivery
    headers, body = handler.received[-1]
    assert headers["X-SafeHaven-Signature"] == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    sent = json.loads(body)
    assert sent["event"] == "rejected" and sent["request"] == request.id and sent["shelter"] is None
    assert sent["recipient"] == officer.username and sent["language"] == "sr"
    assert set(sent) == {"id", "event", "request", "urgency", "shelter", "recipient", "language", "subject", "text",
                         "link", "created_at"}
    for forbidden in (case.code, ADDRESS, "HAH", "full"):
        assert forbidden not in body.decode()
    assert handler.received[0][1] == body  # the retry carries the same id and text


def test_a_webhook_must_be_a_url_with_a_long_secret(make, now):
    org = make.org()
    with pytest.raises(accounts.Invalid):
        accounts.set_webhook(db.session, None, now, org, "ftp://example.org/x", "x" * 20)
    with pytest.raises(accounts.Invalid):
        accounts.set_webhook(db.session, None, now, org, "https://example.org/x", "short")
    with pytest.raises(accounts.Invalid):
        accounts.set_webhook(db.session, None, now, org, "http://[::1/x", "x" * 20)
    for address in ("a\x01b@example.org", "two@at@example.org", "Name <n@example.org>", "n@localhost"):
        with pytest.raises(accounts.Invalid):
            accounts.checked_email(address)
