"""The figures behind every report chart, on hand-built data, and the partners' suppression rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from alerts import jobs
from alerts.rules import Thresholds
from extensions import db
from placement.models import PlacementRequest
from reports import services
from shelters import figures
from shelters import services as shelter_services


@pytest.fixture
def clock() -> datetime:
    # Mid-quarter and mid-day, so a quarter's and a night's boundaries are not crossed by the test itself.
    return datetime(2026, 8, 15, 12, tzinfo=UTC)


def test_overview_rows_use_the_shared_definition_of_utilisation(app, make, clock):
    make._now = clock
    founded = clock - timedelta(days=400)
    busy = make.shelter("BUSY", capacity=4, region="Pejë", created_at=founded)
    idle = make.shelter("IDLE", capacity=2, created_at=founded)
    make.shelter("NEW", capacity=3)
    make.stay(busy, make.case(identified_on=date(2026, 5, 1)), admitted_at=clock - timedelta(days=100))
    old = make.stay(idle, make.case(identified_on=date(2025, 9, 1)), admitted_at=clock - timedelta(days=60))
    shelter_services.discharge_stay(db.session, None, clock, old, "reintegrated",
                                    discharged_at=clock - timedelta(days=20))
    db.session.commit()

    rows = {r.code: r for r in services.overview_rows(db.session, clock)}
    assert set(rows) == {"BUSY", "IDLE", "NEW"}
    busy_row = rows["BUSY"]
    assert (busy_row.occupied, busy_row.held, busy_row.free, busy_row.out_of_service) == (1, 0, 3, 0)
    assert busy_row.util_30 == pytest.approx(30 / 120)
    assert busy_row.util_365 == pytest.approx(100 / (4 * 365))
    assert busy_row.days_since_resident == 0 and busy_row.region == "Pejë"
    # The same numbers as shelters.figures, which the alerts use.
    shared = figures.utilisation(db.session, clock, 365)[busy.id]
    assert busy_row.util_365 == shared.ratio
    idle_row = rows["IDLE"]
    assert idle_row.days_since_resident == 20
    assert idle_row.util_30 == pytest.approx(10 / 60)
    assert rows["NEW"].days_since_resident is None

    jobs.evaluate_alerts(db.session, clock, Thresholds())
    db.session.commit()
    rows = {r.code: r for r in services.overview_rows(db.session, clock)}
    assert "IDLE unused for 20 days" in [a.message for a in rows["IDLE"].alerts]
    assert not any("unused" in a.message for a in rows["BUSY"].alerts)


def test_sorting_by_each_column(app, make, clock):
    make._now = clock
    founded = clock - timedelta(days=400)
    a = make.shelter("A", capacity=2, region="Prizren", created_at=founded)
    make.shelter("B", capacity=2, region="Gjilan", created_at=founded)
    make.stay(a, make.case(identified_on=date(2026, 5, 1)), admitted_at=clock - timedelta(days=50))
    rows = services.overview_rows(db.session, clock)
    assert [r.code for r in services.sort_rows(rows, "code", True)] == ["B", "A"]
    assert [r.code for r in services.sort_rows(rows, "region")] == ["B", "A"]
    assert [r.code for r in services.sort_rows(rows, "util30", True)] == ["A", "B"]
    assert [r.code for r in services.sort_rows(rows, "occupancy")] == ["B", "A"]
    with pytest.raises(KeyError):
        services.sort_rows(rows, "name")


def test_the_overview_takes_a_fixed_number_of_queries(app, make, clock):
    make._now = clock
    founded = clock - timedelta(days=400)
    statements: list[str] = []
    from sqlalchemy import event

    def count(*args, **kwargs):
        statements.append(args[2])

    def queries() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            services.overview_rows(db.session, clock)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    make.shelter("Q1", created_at=founded)
    few = queries()
    for n in range(2, 12):
        shelter = make.shelter(f"Q{n}", created_at=founded)
        make.stay(shelter, make.case(identified_on=date(2026, 5, 1)), admitted_at=clock - timedelta(days=5))
    assert queries() == few


def test_trends_count_every_chart(app, make, clock):
    make._now = clock
    police = make.user("police", org=make.org(code="KP", name="Kosovo Police"))
    ngo = make.user("police", org=make.org(code="NGO", name="Helping Hands"))
    shelter = make.shelter("T", capacity=10, created_at=clock - timedelta(days=800))
    # This quarter (2026 Q3): 3; the same quarter a year before (2025 Q3): 2; 2026 Q2: 1.
    c1 = make.case(police, identified_on=date(2026, 7, 2), sex="female", age=16, exploitation=["sexual"])
    c2 = make.case(police, identified_on=date(2026, 8, 1), sex="male", age=30, exploitation=["labour", "begging"])
    c3 = make.case(ngo, identified_on=date(2026, 8, 10), sex="female", age=22, exploitation=["sexual"])
    make.case(police, identified_on=date(2026, 4, 20), sex="female", age=40, exploitation=[])
    make.case(police, identified_on=date(2025, 7, 20), sex="female", age=25)
    make.case(police, identified_on=date(2025, 9, 1), sex="female", age=25)
    make.case(police, identified_on=date(2024, 9, 1), sex="female", age=25)  # in the 12 months before, not in a shown quarter
    make.stay(shelter, c1, admitted_at=datetime.combine(date(2026, 7, 5), time(10), UTC))  # 3 days
    make.stay(shelter, c3, admitted_at=datetime.combine(date(2026, 8, 17 - 2), time(9), UTC))  # 5 days
    c2.status = "declined_shelter"
    db.session.add(PlacementRequest(case_id=c2.id, requested_by_id=police.id, status="declined",
                                    reason="fear_of_traffickers", created_at=clock, updated_at=clock))
    db.session.commit()

    t = services.trends(db.session, clock)
    # 2025-08-15 .. 2026-08-15: the four 2026 cases and 2025-09-01; the 2025-07-20 case is in the year before.
    assert (t.last_12, t.previous_12) == (5, 2)
    assert t.quarters == [("2025 Q4", 0, 0), ("2026 Q1", 0, 0), ("2026 Q2", 1, 0), ("2026 Q3", 3, 2)]
    assert dict(t.exploitation) == {"sexual": 2, "labour": 1, "begging": 1, "not recorded": 2}
    assert t.sex == [("female", 4), ("male", 1)]
    assert dict(t.age) == {"0-11": 0, "12-17": 1, "18-24": 1, "25-34": 2, "35-49": 1, "50+": 0}
    assert dict(t.organisation) == {"Kosovo Police": 4, "Helping Hands": 1}
    assert dict(t.outcomes) == {"identified": 2, "placed": 2, "declined_shelter": 1}
    assert t.decline_reasons == [("fear_of_traffickers", 1)]
    assert t.placed == 2 and t.days_to_placement == 4  # the median of 3 and 5 days


def test_suppression_rule():
    assert services.suppress(0) == "<11"
    assert services.suppress(10) == "<11"
    assert services.suppress(11) == "11"
    # One hidden cell of a published total would be found by subtraction: the next smallest hides too.
    assert services.suppress_breakdown([("female", 19), ("male", 5)]) == [("female", "<11"), ("male", "<11")]
    assert services.suppress_breakdown([("a", 30), ("b", 12), ("c", 4)]) == [("a", "30"), ("b", "<11"), ("c", "<11")]
    assert services.suppress_breakdown([("a", 30), ("b", 3), ("c", 4)]) == [("a", "30"), ("b", "<11"), ("c", "<11")]
    assert services.suppress_breakdown([("a", 30), ("b", 12)]) == [("a", "30"), ("b", "12")]


def test_partner_figures_are_banded_and_suppressed(app, make, clock):
    make._now = clock
    for i in range(12):
        make.case(identified_on=date(2026, 3, 1 + i), sex="female", age=20, nationality="MD")
    make.case(identified_on=date(2026, 4, 1), sex="male", age=40, nationality="AL")
    f = services.partner_figures(db.session, clock)
    assert f.total == "13"
    # Age bands: the empty bands are hidden already, so 12 can be shown beside the hidden 1.
    assert f.by_age == [("0-11", "<11"), ("12-17", "<11"), ("18-24", "12"), ("25-34", "<11"), ("35-49", "<11"),
                        ("50+", "<11")]
    # Two cells of a published total of 13, one under 11: both are hidden, or 13 - 12 would give the 1 away.
    assert f.by_month == [("2026-03", "<11"), ("2026-04", "<11")]
    assert f.by_sex == [("female", "<11"), ("male", "<11")]
    assert f.by_country == [("AL", "<11"), ("MD", "<11")]
