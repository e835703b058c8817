"""An alert's text in the reader's language, rendered from its kind and figures (alerts.texts): in English it
reads exactly as the rule wrote it, in Albanian and Serbian it carries the same figures, and the stored `message`
(what the API returns) stays English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from accounts.models import User
from alerts import jobs, rules, texts
from alerts.models import Alert
from alerts.rules import ShelterFigures, Thresholds
from extensions import db
from shelters import demo

T = Thresholds()


def as_alert(decision: rules.Decision) -> Alert:
    """An alert as services.upsert would store the decision (not added to any session)."""
    return Alert(kind=decision.kind, subject_type=decision.subject_type, subject=decision.subject,
                 severity=decision.severity, figures=dict(decision.figures), message=decision.message)


def decisions(now) -> list[rules.Decision]:
    """At least one decision of every kind, over the values where the wording changes (hours, days, never)."""
    shelter = ShelterFigures(code="HAH", status="open", registered_at=now - timedelta(days=300), usable=8)
    found = [
        rules.unused_facility(shelter, now, T),
        rules.unused_facility(ShelterFigures(**{**vars(shelter), "last_resident_at": now - timedelta(days=143)}),
                              now, T),
        rules.low_utilisation(ShelterFigures(**{**vars(shelter), "has_resident": True, "occupied": 1,
                                                "bed_nights_occupied": 37, "bed_nights_available": 240}), now, T),
        rules.near_capacity(ShelterFigures(**{**vars(shelter), "has_resident": True, "occupied": 6,
                                              "reserved": 2}), now, T),
        rules.over_capacity(ShelterFigures(**{**vars(shelter), "occupied": 9}), now, T),
        rules.over_capacity(ShelterFigures(**{**vars(shelter), "usable": 0, "occupied": 1}), now, T),
        rules.identification_drop(24, 32, T),
        rules.unusual_access("officer7", 31, T),
        rules.unusual_access("officer8", 120, T),
        rules.job_failed("census", RuntimeError("disk full")),
    ]
    found.append(rules.stale_headcount(shelter, now, T))  # never confirmed since registration
    for hours in (48, 49, 24 * 9):
        confirmed = ShelterFigures(**{**vars(shelter), "last_headcount_at": now - timedelta(hours=hours)})
        found.append(rules.stale_headcount(confirmed, now, T))
        found.append(rules.placement_unanswered(1204, "HAH", now - timedelta(hours=hours), now, T))
    for hours in (4, 5, 47):
        found.append(rules.placement_unanswered(7, None, now - timedelta(hours=hours), now, T))
    assert all(found) and {d.kind for d in found} == set(texts.TEXTS)
    return found


def test_every_kind_has_a_text_and_a_label():
    kinds = {value for name, value in vars(rules).items()
             if name.isupper() and isinstance(value, str) and name != "COUNTRY"}
    assert kinds == set(texts.TEXTS) == set(texts.KIND_LABELS)


def test_in_english_the_text_is_the_rules_message(app, now):
    for decision in decisions(now):
        shown = texts.describe(as_alert(decision))
        if decision.message == "HAH over capacity: 1 beds taken, 0 usable":
            assert shown == "HAH over capacity: 1 bed taken, 0 usable"  # the one the rule words less well
        else:
            assert shown == decision.message, decision.kind


@pytest.mark.parametrize(("locale", "expected"), [
    ("sq", ["Strehimorja HAH nuk është përdorur kurrë",
            "Strehimorja HAH e papërdorur prej 143 ditësh",
            "Strehimorja HAH mbi kapacitet: 9 shtretër të zënë, 8 të përdorshëm",
            "Strehimorja HAH pothuajse plot: të zënë ose të rezervuar 8 nga 8 shtretër të përdorshëm",
            "Identifikimet ranë për 25% krahasuar me vitin e kaluar (24 kundrejt 32)",
            "Kërkesa për vendosje 1204 pa përgjigje prej 2 ditësh",
            "Asnjë numërim i banorëve nga HAH prej 9 ditësh",
            "Asnjë numërim i banorëve nga HAH prej 300 ditësh (asnjë që nga regjistrimi)",
            "Puna e planifikuar 'census' dështoi: RuntimeError: disk full"]),
    ("sr_Latn", ["Sklonište HAH nikada nije korišćeno",
                 "Sklonište HAH nije korišćeno 143 dana",
                 "Sklonište HAH je preko kapaciteta: zauzeto 9 kreveta, upotrebljivih 8",
                 "Sklonište HAH je preko kapaciteta: zauzet 1 krevet, upotrebljivih 0",
                 "Broj identifikacija je pao za 25% u odnosu na prethodnu godinu (24 naspram 32)",
                 "Zahtev za smeštaj 1204 je bez odgovora već 2 dana",
                 "Zahtev za smeštaj 7 je bez odgovora već 4 sata",
                 "Zahtev za smeštaj 7 je bez odgovora već 5 sati",
                 "Korisnik officer7 je pročitao 31 slučaj ili adresu skloništa u poslednjem satu (prag 30)",
                 "Zakazani posao 'census' nije uspeo: RuntimeError: disk full"]),
])
def test_in_albanian_and_serbian_the_text_carries_the_same_figures(app, now, locale, expected):
    alerts = [as_alert(d) for d in decisions(now)]
    with force_locale(locale):
        shown = [texts.describe(alert) for alert in alerts]
        assert texts.kind_label(rules.UNUSED_FACILITY) != "Unused shelter"
        assert texts.severity_label("critical") != "Critical"
    for text in expected:
        assert text in shown
    assert not set(shown) & {alert.message for alert in alerts}


def test_figures_the_sentence_lacks_fall_back_to_the_stored_message(app):
    old = Alert(kind=rules.OVER_CAPACITY, subject_type="shelter", subject="HAH", figures={"occupied": 9},
                message="HAH over capacity: 9 beds taken, 8 usable")
    unknown = Alert(kind="something_new", subject_type="system", subject="x", figures={}, message="As written")
    with force_locale("sq"):
        assert texts.describe(old) == old.message and texts.describe(unknown) == "As written"


def test_the_api_keeps_the_english_message_whatever_the_readers_language(app, now, client, make):
    demo.load(db.session, now)
    db.session.commit()
    jobs.evaluate_alerts(db.session, now, T)
    db.session.commit()
    reader = db.session.scalar(select(User).where(User.username == "secretariat"))
    reader.locale = "sq"
    db.session.commit()
    response = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {make.token(reader)}",
                                                     "Accept-Language": "sq"})
    body = response.get_json()
    messages = {a["message"] for a in body["alerts"]}
    assert {"HAH unused for 143 days", "ISF never used",
            "Identifications down 25% year over year (24 vs 32)"} <= messages
    assert not any("Strehimorja" in m for m in messages)


def test_a_row_of_the_alert_columns_reads_as_the_alert_does(app, now):
    """Other pages (the overview) select the columns rather than load alerts, and get the same words."""
    demo.load(db.session, now)
    db.session.commit()
    jobs.evaluate_alerts(db.session, now, T)
    db.session.commit()
    rows = db.session.execute(select(Alert.kind, Alert.subject_type, Alert.subject, Alert.figures, Alert.message)
                              .where(Alert.subject == "HAH", Alert.kind == rules.UNUSED_FACILITY)).all()
    with force_locale("sq"):
        assert [texts.describe(row) for row in rows] == ["Strehimorja HAH e papërdorur prej 143 ditësh"]
