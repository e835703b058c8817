"""The edges of the figures that the broader tests in test_figures.py pass over: empty defaults, a hold that
expires this instant, a shelter whose only stay began today, one registered today, a shelter with no capacity
history, and the clamp in `nightly` for stays that contradict each other."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, text

from extensions import db
from shelters import figures, services
from shelters.models import CapacityChange, Stay

NOW = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)  # nights counted: June 20..29 for a 10-day window
EARLY = date(2026, 5, 1)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 6, day, hour, tzinfo=UTC)


def test_empty_figures():
    assert figures.Occupancy() == figures.Occupancy(occupied=0, residents=0, reserved=0)
    assert (figures.Occupancy().occupied, figures.Occupancy().residents, figures.Occupancy().reserved) == (0, 0, 0)
    assert figures.Utilisation(0, 0).ratio is None
    assert figures.Utilisation(3, -1).ratio is None
    assert figures.Utilisation(1, 1).ratio == 1.0
    assert figures.Utilisation(0, 1).ratio == 0.0
    assert figures.Utilisation(1, 4).ratio == 0.25


@pytest.mark.parametrize(("usable", "occupied", "reserved", "available"), [
    (10, 3, 2, 5), (10, 7, 3, 0), (10, 8, 3, 0), (5, 0, 0, 5), (0, 0, 0, 0), (4, 1, 0, 3), (4, 0, 1, 3),
])
def test_available_beds_subtract_stays_and_holds(usable, occupied, reserved, available):
    assert figures.available_beds(usable, figures.Occupancy(occupied=occupied, residents=1, reserved=reserved)) \
        == available


def test_a_hold_expiring_this_instant_no_longer_holds(make):
    make._now = NOW
    shelter = make.shelter(capacity=6)
    services.hold_beds(db.session, None, NOW - timedelta(hours=1), shelter, 2, NOW)
    services.hold_beds(db.session, None, NOW - timedelta(hours=1), shelter, 1, NOW + timedelta(seconds=1))
    db.session.commit()
    assert figures.occupancy(db.session, NOW)[shelter.id] == figures.Occupancy(occupied=0, residents=0, reserved=1)


def test_a_shelter_whose_only_stay_began_today_has_no_bed_night(make):
    make._now = NOW
    shelter = make.shelter(capacity=2, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    services.admit_case(db.session, None, NOW, shelter, make.case(identified_on=EARLY), at(30, 8))
    db.session.commit()
    for chosen in (None, [shelter.id]):
        got = figures.utilisation(db.session, NOW, 10, chosen)[shelter.id]
        assert (got.bed_nights_occupied, got.bed_nights_available) == (0, 20)
    assert figures.nightly(db.session, NOW, 10)[shelter.id].occupied == [0] * 10


def test_a_shelter_without_capacity_history_has_no_bed_night_available(make):
    make._now = NOW
    shelter = make.shelter(capacity=2, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    services.admit_case(db.session, None, NOW, shelter, make.case(identified_on=EARLY), at(25))
    db.session.commit()
    db.session.execute(delete(CapacityChange).where(CapacityChange.shelter_id == shelter.id))
    db.session.commit()
    got = figures.utilisation(db.session, NOW, 10)[shelter.id]
    assert (got.bed_nights_occupied, got.bed_nights_available, got.ratio) == (5, 0, None)


def test_nights_of_a_shelter_registered_mid_window_and_one_registered_today(make):
    make._now = NOW
    mid = make.shelter(capacity=4, out_of_service=1, created_at=at(27, 9))
    today = make.shelter(capacity=3, created_at=at(30, 8))
    nights = figures.nightly(db.session, NOW, 5)
    assert nights[mid.id] == figures.Nights(date(2026, 6, 25), [0] * 5, [None, None, 4, 4, 4], [0, 0, 1, 1, 1])
    assert nights[mid.id].usable == [None, None, 3, 3, 3]
    assert today.id not in nights  # no night of the window yet
    assert today.id not in figures.nightly(db.session, NOW, 5, [mid.id, today.id])


def test_nightly_never_shows_fewer_than_no_beds_occupied(make, backend):
    """Stays that contradict each other (a discharge dated before its admission, from before the check constraint
    held) would make a night's running sum negative: those nights read 0, the others are left as they are."""
    if backend != "sqlite":
        pytest.skip("the contradiction is written past SQLite's check constraints; PostgreSQL cannot be told to")
    make._now = NOW
    shelter = make.shelter(capacity=4, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    services.admit_case(db.session, None, NOW, shelter, make.case(identified_on=EARLY), at(24))
    odd = services.admit_case(db.session, None, NOW, shelter, make.case(identified_on=EARLY), at(25))
    db.session.commit()
    db.session.execute(text("PRAGMA ignore_check_constraints = ON"))
    db.session.execute(Stay.__table__.update().where(Stay.id == odd.id).values(discharged_at=at(22)))
    db.session.commit()
    db.session.execute(text("PRAGMA ignore_check_constraints = OFF"))
    # +1 on the 24th; the odd stay: -1 on the 22nd, +1 on the 25th: running sums 0 0 -1 -1 0 1 1 1 1 1
    nights = figures.nightly(db.session, NOW, 10)[shelter.id]
    assert nights.occupied == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert nights.first == date(2026, 6, 20)
