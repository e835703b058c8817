"""The jobs on hand-built data and on the cable's demo, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from accounts.models import AuditEvent
from alerts import jobs, services
from alerts.models import Alert, CensusDay
from alerts.rules import Thresholds
from extensions import db
from shelters import demo
from shelters import services as shelter_services
from shelters.models import Reservation

T = Thresholds()


@pytest.fixture
def now() -> datetime:
    return datetime(2025, 6, 1, 12, tzinfo=UTC)


def stay(make, shelter, admitted_at: datetime):
    """A resident admitted at `admitted_at` (the factory's case is identified today, by the wall clock)."""
    return make.stay(shelter, make.case(identified_on=min(admitted_at.date(), make.now().date())), admitted_at)


def live(kind: str | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.status != "resolved").order_by(Alert.kind, Alert.subject)
    if kind:
        query = query.where(Alert.kind == kind)
    return list(db.session.scalars(query))


def evaluate(now: datetime) -> services.Summary:
    summary = jobs.evaluate_alerts(db.session, now, T)
    db.session.commit()
    return summary


def confirm(shelter, at: datetime) -> None:
    occupied = shelter_services.shelter_views(db.session, at, [shelter])[0].occupancy.occupied
    shelter_services.confirm_headcount(db.session, None, at, shelter, occupied)
    db.session.commit()


def test_unused_for_143_days(make, now):
    hah = make.shelter("HAH", capacity=8, created_at=now - timedelta(days=400))
    resident = stay(make, hah, now - timedelta(days=300))
    shelter_services.discharge_stay(db.session, None, now, resident, "reintegrated",
                                    discharged_at=now - timedelta(days=143))
    confirm(hah, now - timedelta(hours=1))
    evaluate(now)
    (alert,) = live("unused_facility")
    assert (alert.subject, alert.shelter_id, alert.message) == ("HAH", hah.id, "HAH unused for 143 days")
    assert alert.figures["days_unused"] == 143 and alert.severity == "warning"
    assert live("low_utilisation") == []  # reported as unused, not twice


def test_never_used_and_too_new_to_tell(make, now):
    make.shelter("ISF", capacity=6, created_at=now - timedelta(days=30))
    make.shelter("NEW", capacity=6, created_at=now - timedelta(days=3))
    evaluate(now)
    assert [(a.subject, a.message) for a in live("unused_facility")] == [("ISF", "ISF never used")]


def test_utilisation_below_the_floor(make, now):
    shelter = make.shelter("LOW", capacity=10, created_at=now - timedelta(days=60))
    for _ in range(5):
        stay(make, shelter, now - timedelta(days=40))
    confirm(shelter, now)
    evaluate(now)
    (alert,) = live("low_utilisation")
    assert (alert.figures["bed_nights_occupied"], alert.figures["bed_nights_available"]) == (150, 300)
    assert alert.figures["utilisation"] == 0.5
    assert live("unused_facility") == []


def test_near_capacity_counts_held_beds(make, now):
    shelter = make.shelter("PVPT", capacity=5, created_at=now - timedelta(days=60))
    for _ in range(4):
        stay(make, shelter, now - timedelta(days=40))
    confirm(shelter, now)
    evaluate(now)
    assert live("near_capacity") == []
    db.session.add(Reservation(shelter_id=shelter.id, beds=1, created_at=now, held_until=now + timedelta(hours=2)))
    db.session.commit()
    evaluate(now)
    (alert,) = live("near_capacity")
    assert (alert.figures["occupied"], alert.figures["reserved"], alert.figures["usable"]) == (4, 1, 5)


def test_over_capacity_replaces_near_capacity(make, now):
    shelter = make.shelter("PVPT", capacity=5, created_at=now - timedelta(days=60))
    for _ in range(5):
        stay(make, shelter, now - timedelta(days=40))
    confirm(shelter, now)
    evaluate(now)
    assert [a.kind for a in live()] == ["near_capacity"]
    shelter.out_of_service = 1  # a bed breaks while five are taken
    db.session.commit()
    summary = evaluate(now + timedelta(hours=1))
    (alert,) = live()
    assert (alert.kind, alert.severity, alert.message) == ("over_capacity", "critical",
                                                           "PVPT over capacity: 5 beds taken, 4 usable")
    assert summary.resolved["near_capacity"] == 1


def test_stale_headcount(make, now):
    isf = make.shelter("ISF", capacity=6, created_at=now - timedelta(days=10))
    stay(make, isf, now - timedelta(days=9))
    confirm(isf, now - timedelta(days=3, hours=1))
    evaluate(now)
    (alert,) = live("stale_headcount")
    assert alert.message == "No headcount from ISF for 3 days"
    confirm(isf, now)
    summary = evaluate(now)
    assert live("stale_headcount") == [] and summary.resolved["stale_headcount"] == 1


def test_the_cables_picture_on_the_demo(app, now):
    demo.load(db.session, now)
    db.session.commit()
    evaluate(now)
    assert [(a.subject, a.message) for a in live("unused_facility")] == [
        ("HAH", "HAH unused for 143 days"), ("ISF", "ISF never used")]
    (drop,) = live("identification_drop")
    assert (drop.subject_type, drop.message) == ("country", "Identifications down 25% year over year (24 vs 32)")
    assert (drop.figures["last_12_months"], drop.figures["previous_12_months"]) == (24, 32)
    pvpt = [a for a in live() if a.subject == "PVPT"]
    assert pvpt == []  # PVPT is used: nothing unused, low, near or stale about it
    assert live("low_utilisation") == []


def test_evaluating_twice_changes_nothing(app, now):
    demo.load(db.session, now)
    db.session.commit()
    first = evaluate(now)
    assert first.changed
    rows = [(a.id, a.kind, a.subject, a.status, a.figures, a.message, a.last_seen) for a in live()]
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    second = evaluate(now)
    assert not second.changed and sum(second.unchanged.values()) == len(rows)
    db.session.expire_all()
    assert [(a.id, a.kind, a.subject, a.status, a.figures, a.message, a.last_seen) for a in live()] == rows
    assert db.session.scalar(select(func.count()).select_from(Alert)) == len(rows)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_cleared_condition_resolves_itself_and_a_new_one_opens_afresh(make, now):
    isf = make.shelter("ISF", capacity=6, created_at=now - timedelta(days=30))
    confirm(isf, now)
    evaluate(now)
    (alert,) = live("unused_facility")
    resident = stay(make, isf, now)
    summary = evaluate(now + timedelta(hours=1))
    db.session.refresh(alert)
    assert summary.resolved["unused_facility"] == 1
    assert (alert.status, alert.resolved_by_id, alert.resolution_note) == (
        "resolved", None, "condition cleared on re-evaluation")
    shelter_services.discharge_stay(db.session, None, now + timedelta(hours=2), resident, "repatriated")
    db.session.commit()
    evaluate(now + timedelta(days=20))
    (again,) = live("unused_facility")
    assert again.id != alert.id and again.message == "ISF unused for 19 days"


def test_only_one_live_alert_per_kind_and_subject_in_the_database(app, now):
    values = dict(kind="unused_facility", subject_type="shelter", subject="HAH", severity="warning",
                  figures={}, message="m", first_seen=now, last_seen=now)
    db.session.add(Alert(**values, status="resolved"))
    db.session.add(Alert(**values, status="open"))
    db.session.commit()
    db.session.add(Alert(**values, status="acknowledged"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_upsert_leaves_kinds_it_did_not_evaluate_alone(app, now):
    from alerts.rules import Decision

    services.upsert(db.session, now, [Decision("system", "system", "census", "critical", "m")], ["system"])
    services.upsert(db.session, now, [], ["unused_facility"])
    db.session.commit()
    assert [a.kind for a in live()] == ["system"]


def test_expired_reservations_are_released(make, now):
    shelter = make.shelter("PVPT", capacity=5)
    due = Reservation(shelter_id=shelter.id, beds=1, created_at=now - timedelta(hours=3), held_until=now)
    later = Reservation(shelter_id=shelter.id, beds=1, created_at=now, held_until=now + timedelta(minutes=1))
    db.session.add_all([due, later])
    db.session.commit()
    assert jobs.expire_reservations(db.session, now) == 1
    db.session.commit()
    db.session.refresh(due)
    db.session.refresh(later)
    assert (due.released_at, due.release_reason) == (now, "expired")
    assert later.released_at is None
    assert jobs.expire_reservations(db.session, now) == 0


def test_census_one_row_per_shelter_per_day(make, now):
    pvpt = make.shelter("PVPT", capacity=5, opened_on=date(2025, 5, 1))
    make.shelter("HAH", capacity=8)
    stay(make, pvpt, now - timedelta(days=1))
    assert jobs.record_census(db.session, now) == 2
    assert jobs.record_census(db.session, now + timedelta(hours=3)) == 0
    db.session.commit()
    rows = {r.shelter_id: r for r in db.session.scalars(select(CensusDay))}
    assert (rows[pvpt.id].day, rows[pvpt.id].occupied, rows[pvpt.id].capacity) == (date(2025, 6, 1), 1, 5)
    assert jobs.record_census(db.session, now + timedelta(days=1)) == 2


def test_a_request_without_an_accepted_bed_for_4_hours_is_raised_then_cleared(make, now):
    from flask import current_app

    from placement import services as placement

    settings = placement.Settings.from_config(current_app.config)
    shelter = make.shelter("PVPT", capacity=2, created_at=now - timedelta(days=60))
    officer = make.user("police")
    case = make.case(officer, identified_on=now.date())
    # A routine request: an urgent one escalates after an hour, an emergency after 15 minutes (tests/alerts/test_notify.py).
    request = placement.create_request(db.session, officer, now, case, settings, urgency="routine")
    db.session.commit()
    evaluate(now + timedelta(hours=3))
    assert live("placement_unanswered") == []
    evaluate(now + timedelta(hours=5, minutes=10))
    (alert,) = live("placement_unanswered")
    assert alert.message == f"Placement request {request.id} unanswered for 5 hours"
    later = now + timedelta(hours=5, minutes=20)
    placement.reserve(db.session, officer, later, request, shelter.code, settings)
    placement.accept(db.session, make.manager(shelter), later, request, settings)
    db.session.commit()
    evaluate(later)
    assert live("placement_unanswered") == []


def test_every_opened_and_resolved_alert_is_audited_in_one_valid_chain(make, now):
    from accounts import audit

    isf = make.shelter("ISF", capacity=6, created_at=now - timedelta(days=30))
    make.shelter("HAH", capacity=6, created_at=now - timedelta(days=30))
    confirm(isf, now)
    evaluate(now)
    assert len(live()) >= 2
    stay(make, isf, now)
    summary = evaluate(now + timedelta(hours=1))
    assert summary.resolved["unused_facility"] == 1
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "alert")
                                .order_by(AuditEvent.id)).all()
    opened = {(a.id, a.kind) for a in db.session.scalars(select(Alert))}  # both runs' alerts
    assert {(int(e.object_id), e.detail["kind"]) for e in events if e.action == "alert.opened"} == opened
    (resolved,) = [e for e in events if e.action == "alert.resolved"]
    assert resolved.detail == {"kind": "unused_facility", "subject": "shelter:ISF",
                               "note": "condition cleared on re-evaluation"}
    assert audit.verify_chain(db.session).ok
