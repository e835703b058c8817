"""Local time: pages and typed times in SAFEHAVEN_TIMEZONE (default Europe/Belgrade) or the user's own zone;
storage and the API stay UTC."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config import Config
from extensions import db
from shelters.models import Stay
from tests.fixtures.pages import body

BELGRADE = ZoneInfo("Europe/Belgrade")


@pytest.fixture
def belgrade(app):
    app.config["SAFEHAVEN_TIMEZONE"] = "Europe/Belgrade"
    return app


def clock(moment, zone) -> str:  # noqa: ANN001
    local = moment.astimezone(zone)
    return f"{local:%H:%M} {local.tzname()}"


def test_the_deployment_zone_defaults_to_belgrade(monkeypatch):
    monkeypatch.delenv("SAFEHAVEN_TIMEZONE", raising=False)
    assert Config().SAFEHAVEN_TIMEZONE == "Europe/Belgrade"
    monkeypatch.setenv("SAFEHAVEN_TIMEZONE", "Europe/Tirane")
    assert Config().SAFEHAVEN_TIMEZONE == "Europe/Tirane"


def test_pages_show_local_time_and_a_user_may_choose_their_own(belgrade, client, pages, make, runner, api_as):
    shelter = make.shelter("PVPT")
    officer = make.user("police")
    request = make.reserved(shelter, by=officer)
    pages.login(officer.username)
    until = request.reservation.held_until
    html = body(client.get(f"/placements/{request.id}"))
    assert clock(until, BELGRADE) in html and f"{until.astimezone(ZoneInfo('UTC')):%H:%M} UTC" not in html

    result = runner.invoke(args=["users", "timezone", officer.username, "Europe/London"])
    assert result.exit_code == 0, result.output
    html = body(client.get(f"/placements/{request.id}"))
    assert clock(until, ZoneInfo("Europe/London")) in html
    assert runner.invoke(args=["users", "timezone", officer.username, "Mars/Olympus"]).exit_code != 0

    # The API stays UTC, with its offset.
    answer = api_as(officer).get(f"/placements/{request.id}")
    assert answer.json["expires_at"].endswith("+00:00")


def test_a_typed_admission_time_is_read_as_local_time(belgrade, client, pages, make, now):
    make.shelter("PVPT")
    case = make.case(identified_on=(now - timedelta(days=2)).date())
    pages.login(make.user("secretariat").username)
    typed = (now - timedelta(hours=3)).astimezone(BELGRADE).replace(second=0, microsecond=0)
    response = pages.post("/shelters/PVPT/admit", {"case_code": case.code,
                                                   "admitted_at": typed.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302, body(response)
    stay = db.session.scalar(select(Stay).where(Stay.case_id == case.id))
    assert stay.admitted_at == typed  # the wall-clock time in Belgrade, stored as the same moment in UTC
    assert stay.admitted_at.utcoffset() == timedelta(0)


def test_users_get_a_time_zone_from_the_cli_and_the_api(app, runner, make, api_as):
    result = runner.invoke(args=["users", "create", "ana", "--role", "police", "--timezone", "Europe/Berlin"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    api = api_as(make.user("admin"))
    for zone in ("Nowhere/City", "Europe", "../../etc/passwd", "europe/belgrade"):  # "Europe" is a directory
        bad = api.post("/users", json={"username": "eve", "password": "a long enough password", "role": "police",
                                       "timezone": zone})
        assert bad.status_code == 422 and "timezone" in bad.json["error"]["fields"], (zone, bad.status_code)
    users = {u["username"]: u for u in api.get("/users").json["users"]}
    assert users["ana"]["timezone"] == "Europe/Berlin" and "eve" not in users


def test_a_user_chooses_their_zone_on_a_page(belgrade, client, pages, make):
    user = make.user("police")
    pages.login(user.username)
    html = body(client.get("/account/timezone"))
    assert "As the deployment: Europe/Belgrade" in html and '<option value="Europe/London">' in html
    response = pages.post("/account/timezone", {"timezone": "Europe/London"}, from_page="/account/timezone")
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.timezone == "Europe/London"
    assert pages.post("/account/timezone", {"timezone": "Mars/Olympus"},
                      from_page="/account/timezone").status_code == 422
    assert pages.post("/account/timezone", {"timezone": ""}, from_page="/account/timezone").status_code == 302
    db.session.refresh(user)
    assert user.timezone is None


def test_csv_times_are_local_with_their_offset(belgrade, client, pages, make, now):
    import csv
    import io

    shelter = make.shelter("PVPT")
    shelter.last_headcount_at = now.replace(microsecond=0)
    db.session.commit()
    pages.login(make.user("secretariat").username)
    pages.post("/account/reauth", {"password": make.PASSWORD}, from_page="/account/reauth")
    answer = client.get("/overview.csv")
    assert answer.status_code == 200, answer.status_code
    (row,) = csv.DictReader(io.StringIO(answer.get_data(as_text=True)))
    local = now.astimezone(BELGRADE)
    assert row["last_headcount"] == local.isoformat(timespec="minutes")
    assert row["last_headcount"].endswith(("+01:00", "+02:00"))


def test_the_digest_reads_in_each_recipient_s_zone(belgrade, make, now):
    from aiosmtpd.controller import Controller

    from alerts import mail, rules, services
    from tests.alerts.test_mail import Inbox, free_port

    make.user("secretariat", username="duty")
    london = make.user("secretariat", username="night")
    london.timezone = "Europe/London"
    services.raise_system_alert(db.session, now, rules.job_failed("census", RuntimeError("disk full")))
    db.session.commit()
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail.send_digest(db.session, now, {"SAFEHAVEN_SMTP_HOST": "127.0.0.1", "SAFEHAVEN_SMTP_PORT": port,
                                           "SAFEHAVEN_SMTP_TO": ["duty <duty@ats.example>",
                                                                 "night <night@ats.example>"]})
    finally:
        controller.stop()
    texts = {str(m["To"]): m.get_content() for m in inbox.messages()}
    assert clock(now, BELGRADE) in texts["duty <duty@ats.example>"]
    assert clock(now, ZoneInfo("Europe/London")) in texts["night <night@ats.example>"]
