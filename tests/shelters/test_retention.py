"""Closed cases are anonymised after the retention period; aggregate figures keep what they count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from accounts.models import AuditEvent
from alerts import scheduler
from extensions import db
from placement.models import PlacementRequest
from shelters import services
from shelters.models import Case, CaseStatus
from shelters.retention import anonymise_closed_cases, years_before

NOW = datetime(2031, 6, 15, 2, 30, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


def old_case(make, identified: date, **overrides) -> Case:
    return make.case(identified_on=identified, age=identified.year - 1987, languages=["ro", "ru"],
                     trafficker_regions=["Prizren"], exploitation=["labour"], identifying_details="ID 4455",
                     **overrides)


def discharged(make, shelter, identified: date, at: datetime) -> Case:
    case = old_case(make, identified)
    stay = services.admit_case(db.session, None, NOW, shelter, case, at - timedelta(days=30))
    services.discharge_stay(db.session, None, NOW, stay, "reintegrated", discharged_at=at)
    db.session.commit()
    return case


def request_for(case: Case, user, status: str, at: datetime) -> None:
    db.session.add(PlacementRequest(case_id=case.id, requested_by_id=user.id, status=status, created_at=at,
                                    updated_at=at))
    db.session.commit()


def test_only_cases_closed_longer_than_the_period_are_anonymised(app, make):
    shelter = make.shelter(capacity=10, opened_on=date(2020, 1, 1))
    officer = make.user("police")
    due = discharged(make, shelter, date(2024, 1, 10), datetime(2025, 3, 1, tzinfo=UTC))
    recent = discharged(make, shelter, date(2024, 1, 10), datetime(2027, 3, 1, tzinfo=UTC))
    declined = old_case(make, date(2025, 2, 1))
    request_for(declined, officer, "declined", datetime(2025, 2, 2, tzinfo=UTC))
    declined.status = CaseStatus.DECLINED_SHELTER
    declined_but_asking_again = old_case(make, date(2025, 2, 1))
    request_for(declined_but_asking_again, officer, "open", datetime(2025, 2, 2, tzinfo=UTC))
    declined_but_asking_again.status = CaseStatus.DECLINED_SHELTER
    still_open = old_case(make, date(2024, 1, 10))  # identified, never closed
    placed = old_case(make, date(2024, 1, 10))
    services.admit_case(db.session, None, NOW, shelter, placed, datetime(2024, 2, 1, tzinfo=UTC))
    db.session.commit()

    assert anonymise_closed_cases(db.session, NOW, 5) == 2
    db.session.commit()
    db.session.expire_all()
    for case in (due, declined):
        case = db.session.get(Case, case.id)
        assert case.anonymised and case.identifying_details is None
        assert (case.birth_year, case.languages, case.trafficker_regions) == (1985, [], [])
        # What aggregate figures count stays.
        assert (case.sex, case.nationality, case.exploitation) == ("female", "MD", ["labour"])
    assert db.session.get(Case, due.id).identified_on == date(2024, 1, 10)
    assert db.session.get(Case, due.id).resolution == "reintegrated"
    assert db.session.get(Case, declined.id).status == CaseStatus.DECLINED_SHELTER
    for case in (recent, declined_but_asking_again, still_open, placed):
        case = db.session.get(Case, case.id)
        assert not case.anonymised and case.identifying_details == "ID 4455"
        assert (case.birth_year, case.languages) == (1987, ["ro", "ru"])

    # Idempotent: the next run finds nothing more; each run is audited once, with its count only.
    assert anonymise_closed_cases(db.session, NOW + timedelta(days=1), 5) == 0
    db.session.commit()
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.anonymise_closed")
                                     .order_by(AuditEvent.id)))
    assert [e.detail["count"] for e in events] == [2, 0]
    assert all(e.object_id == "*" for e in events)


def test_a_shorter_period_takes_in_more(app, make):
    shelter = make.shelter(capacity=10, opened_on=date(2020, 1, 1))
    discharged(make, shelter, date(2024, 1, 10), datetime(2027, 3, 1, tzinfo=UTC))
    assert anonymise_closed_cases(db.session, NOW, 5) == 0
    assert anonymise_closed_cases(db.session, NOW, 4) == 1
    with pytest.raises(ValueError):
        anonymise_closed_cases(db.session, NOW, 0)


def test_birth_years_fall_to_the_start_of_their_band(app, make):
    shelter = make.shelter(capacity=10, opened_on=date(2020, 1, 1))
    years = {}
    for birth_year in (1985, 1989, 1990, 2002):
        case = discharged(make, shelter, date(2024, 1, 10), datetime(2025, 1, 1, tzinfo=UTC))
        case.birth_year = birth_year
        years[case.id] = birth_year
    db.session.commit()
    anonymise_closed_cases(db.session, NOW, 5)
    assert {c.id: c.birth_year for c in db.session.scalars(select(Case))} == {
        i: y - y % 5 for i, y in years.items()}


def test_leap_day_cutoff():
    assert years_before(datetime(2032, 2, 29, tzinfo=UTC), 5) == datetime(2027, 2, 28, tzinfo=UTC)


def test_the_scheduler_runs_it_daily_with_the_configured_period(app, make):
    shelter = make.shelter(capacity=10, opened_on=date(2020, 1, 1))
    discharged(make, shelter, date(2024, 1, 10), datetime(2027, 3, 1, tzinfo=UTC))
    db.session.remove()
    assert scheduler.JOBS["retention"].trigger == "cron"
    assert scheduler.run_job(app, "retention", NOW).result == 0
    app.config["SAFEHAVEN_RETENTION_YEARS"] = 4
    run = scheduler.run_job(app, "retention", NOW)
    assert run.ok and run.result == 1
