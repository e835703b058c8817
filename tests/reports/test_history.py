"""A shelter's nights on hand-built data: the sparkline's and the history chart's figures night by night (beds
occupied, the capacity line, beds out of service), the same as utilisation counts them; the board's history
panel and its stays (who sees them, and the audit of reading them)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select

from accounts.models import AuditEvent
from extensions import db
from reports import charts, services
from shelters import figures
from shelters import services as shelter_services


@pytest.fixture
def clock() -> datetime:
    return datetime(2026, 8, 15, 12, tzinfo=UTC)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def build(make, today: date):
    """HIST: 4 beds for a year; 6 beds with 2 out of service from 6 days ago. A family of two (2 beds) in
    for 100 days and still there; a victim alone admitted 5 days ago, discharged 2 days ago. OTHER: idle."""
    make._now = at(today)
    hist = make.shelter("HIST", capacity=4, created_at=at(today - timedelta(days=400)))
    other = make.shelter("OTHER", capacity=3, created_at=at(today - timedelta(days=400)))
    shelter_services.update_shelter(db.session, None, at(today - timedelta(days=6)), hist, hist.version,
                                    {"capacity": 6, "out_of_service": 2})
    db.session.commit()
    family = make.stay(hist, make.case(children=1, identified_on=today - timedelta(days=110)),
                       admitted_at=at(today - timedelta(days=100)))
    alone = make.stay(hist, make.case(identified_on=today - timedelta(days=8)), admitted_at=at(today - timedelta(days=5)))
    shelter_services.discharge_stay(db.session, None, at(today), alone, "reintegrated",
                                    discharged_at=at(today - timedelta(days=2)))
    db.session.commit()
    return hist, other, family, alone


def test_nights_count_beds_capacity_and_out_of_service_exactly(app, make, clock):
    hist, other, _family, _alone = build(make, clock.date())
    nights = figures.nightly(db.session, clock, 10)
    n = nights[hist.id]
    assert n.first == date(2026, 8, 5)
    # Aug 5-9 the family's 2 beds; Aug 10-12 one more (the discharge day is not a night); Aug 13-14 the family.
    assert n.occupied == [2, 2, 2, 2, 2, 3, 3, 3, 2, 2]
    # The change made on Aug 9 is the capacity of Aug 9's night.
    assert n.capacity == [4, 4, 4, 4, 6, 6, 6, 6, 6, 6]
    assert n.out_of_service == [0, 0, 0, 0, 2, 2, 2, 2, 2, 2]
    assert n.usable == [4] * 10
    assert nights[other.id].occupied == [0] * 10 and nights[other.id].capacity == [3] * 10
    # Summed, the nights are utilisation's bed-nights: one definition.
    for days in (10, 90, 365):
        for sid, u in figures.utilisation(db.session, clock, days).items():
            series = figures.nightly(db.session, clock, days)[sid]
            assert sum(series.occupied) == u.bed_nights_occupied
            assert sum(x or 0 for x in series.usable) == u.bed_nights_available


def test_a_shelter_opened_inside_the_window_has_no_capacity_before(app, make, clock):
    make._now = clock
    late = make.shelter("LATE", capacity=2, created_at=at(clock.date() - timedelta(days=3)))
    n = figures.nightly(db.session, clock, 5, [late.id])[late.id]
    assert n.capacity == [None, None, 2, 2, 2] and n.usable == [None, None, 2, 2, 2]
    assert "not in service" not in charts.describe_nights(n, "LATE")


def test_the_nights_of_every_shelter_take_two_queries(app, make, clock):
    make._now = clock
    for i in range(6):
        s = make.shelter(f"Q{i}", capacity=3, created_at=clock - timedelta(days=200))
        make.stay(s, make.case(identified_on=clock.date() - timedelta(days=50)), admitted_at=clock - timedelta(days=40))
    statements: list[str] = []

    def count(*args, **kwargs):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        nights = figures.nightly(db.session, clock, 90)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
    assert len(nights) == 6 and all(n.occupied[-40:] == [1] * 40 and n.occupied[-41] == 0 for n in nights.values())


def test_the_sparkline_reads_in_numbers_without_script_or_style(app, make, clock):
    hist, *_ = build(make, clock.date())
    n = figures.nightly(db.session, clock, 10)[hist.id]
    svg = str(charts.sparkline("HIST", n))
    assert "<script" not in svg and " style=" not in svg and "http" not in svg.replace("http://www.w3", "")
    assert 'role="img"' in svg and 'aria-labelledby="spark-HIST"' in svg
    title = re.search(r'<title id="spark-HIST">(.*?)</title>', svg).group(1)
    assert "HIST, 10 nights from Aug 5, 2026 to Aug 14, 2026" in title
    assert "2 to 3 beds occupied, 2.3 on average; 23 of 40 bed-nights used (58%); 4 usable beds" in title
    assert 'class="sparkline-occupied"' in svg and 'stroke-dasharray="4 2"' in svg  # a dashed line, not hue alone


def test_shared_sparklines_use_the_pages_defs_and_draw_the_same(app, make, clock):
    from datetime import date

    hist, *_ = build(make, clock.date())
    n = figures.nightly(db.session, clock, 10)[hist.id]
    alone, shared = str(charts.sparkline("HIST", n)), str(charts.sparkline("HIST", n, shared=True))
    defs = str(charts.sparkline_defs(10))
    assert 'aria-hidden="true"' in defs and " style=" not in defs and "<script" not in defs
    # The baseline and the usable line at the top all along are referred to, the rest drawn as before.
    assert '<use href="#sparkdefs-base-10"/>' in shared and '<path d="M0,99H10"' in alone
    assert '<use class="sparkline-usable" href="#sparkdefs-full-10"/>' in shared
    assert 'id="sparkdefs-base-10" d="M0,99H10"' in defs
    assert re.search(r'id="sparkdefs-full-10" d="M0,1H10"[^>]*stroke-dasharray="4 2"', defs)
    assert re.search(r'class="sparkline-usable" d="M0,1H10"', alone)
    assert re.findall(r"<title.*?</title>|sparkline-occupied\" d=\"[^\"]+", shared) == \
        re.findall(r"<title.*?</title>|sparkline-occupied\" d=\"[^\"]+", alone)
    # A line that moves is drawn in full, dashed, even when shared.
    moving = figures.Nights(date(2026, 8, 5), [1] * 10, [4] * 5 + [6] * 5, [0] * 10)
    svg = str(charts.sparkline("MOVE", moving, shared=True))
    assert re.search(r'class="sparkline-usable" d="M0,[0-9]+H5L5,1H10"[^>]*stroke-dasharray="4 2"', svg)


def test_the_history_chart_draws_capacity_and_out_of_service(app, make, clock):
    hist, *_ = build(make, clock.date())
    n = figures.nightly(db.session, clock, 10)[hist.id]
    svg = str(charts.history_chart("h", "HIST", n))
    assert " style=" not in svg and "<script" not in svg
    # One out-of-service band, over the six nights from Aug 9, from 6 beds down to 4.
    bands = re.findall(r'<rect class="chart-out-of-service"[^>]*><title>([^<]*)</title>', svg)
    assert bands == ["2 beds out of service, Aug 9, 2026 to Aug 14, 2026"]
    assert svg.count('class="chart-capacity"') == 1 and svg.count('class="chart-occupied"') == 1
    for words in ("Beds occupied", "Capacity", "Out of service (hatched)"):
        assert f">{words}</text>" in svg
    assert charts.history_table(n) == [
        {"first": date(2026, 8, 5), "last": date(2026, 8, 8), "nights": 4, "occupied": 2, "capacity": 4,
         "out_of_service": 0},
        {"first": date(2026, 8, 9), "last": date(2026, 8, 9), "nights": 1, "occupied": 2, "capacity": 6,
         "out_of_service": 2},
        {"first": date(2026, 8, 10), "last": date(2026, 8, 12), "nights": 3, "occupied": 3, "capacity": 6,
         "out_of_service": 2},
        {"first": date(2026, 8, 13), "last": date(2026, 8, 14), "nights": 2, "occupied": 2, "capacity": 6,
         "out_of_service": 2},
    ]


def test_shelter_history_lists_the_stays_of_its_nights(app, make, clock):
    hist, _other, family, alone = build(make, clock.date())
    h = services.shelter_history(db.session, clock, hist, 90, with_stays=True)
    assert [(s.case_code, s.beds, s.reason) for s in h.stays] == [
        (alone.case.code, 1, "reintegrated"), (family.case.code, 2, None)]
    assert services.shelter_history(db.session, clock, hist, 90, with_stays=False).stays is None
    # A stay that ended before the window is not in it.
    assert services.shelter_history(db.session, clock + timedelta(days=100), hist, 90, with_stays=True).stays == [
        services.StayRow(family.case.code, family.admitted_at, None, 2, None)]


# --- the board's panel -------------------------------------------------------------------------------------


def stays_reads() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shelter.stays_read")
                                   .order_by(AuditEvent.id)))


def test_secretariat_sees_the_history_and_stays_and_the_read_is_audited(app, make, client, pages, now):
    _hist, _other, family, alone = build(make, now.date())
    secretariat = make.user("secretariat")
    pages.login(secretariat.username)
    html = client.get("/shelters/HIST").get_data(as_text=True)
    panel = re.search(r'<section class="card report-chart" id="history".*?</section>', html, re.DOTALL).group(0)
    assert 'class="chart chart--history"' in panel and 'class="chart-out-of-service"' in panel
    assert "Occupancy of HIST, last 90 nights" in panel and 'id="history-table"' in panel
    stays = re.search(r'<table class="report-table stack" id="history-stays".*?</table>', panel, re.DOTALL).group(0)
    assert re.findall(r'<th scope="row" class="code">([^<]+)</th>', stays) == [alone.case.code, family.case.code]
    assert "Reintegrated" in stays and "still here" in stays
    assert " style=" not in panel
    (read,) = stays_reads()
    assert (read.actor, read.object_id) == (secretariat.username, "HIST")
    assert read.detail == {"nights": 90, "cases": sorted([alone.case.code, family.case.code])}


def test_the_window_is_chosen_among_90_and_365_nights(app, make, client, pages, now):
    build(make, now.date())
    pages.login(make.user("secretariat").username)
    html = client.get("/shelters/HIST?history=365").get_data(as_text=True)
    assert "Occupancy of HIST, last 365 nights" in html
    assert re.search(r'history=365#history" aria-current="page"', html)
    assert "Occupancy of HIST, last 90 nights" in client.get("/shelters/HIST?history=7").get_data(as_text=True)
    assert client.get("/shelters/HIST?history=x").status_code == 200


def test_the_own_manager_sees_the_history_another_manager_and_police_do_not(app, make, client, pages, now):
    hist, other, family, alone = build(make, now.date())
    own, stranger, police = make.manager(hist), make.manager(other), make.user("police")
    pages.login(own.username)
    assert 'id="history-stays"' in client.get("/shelters/HIST").get_data(as_text=True)
    assert [e.actor for e in stays_reads()] == [own.username]
    for user in (stranger, police):
        pages.post("/logout")
        pages.login(user.username)
        html = client.get("/shelters/HIST").get_data(as_text=True)
        assert 'id="history"' not in html
        assert family.case.code not in html and alone.case.code not in html
    assert [e.actor for e in stays_reads()] == [own.username]
