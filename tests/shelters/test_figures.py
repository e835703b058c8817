"""Occupancy and utilisation, right to the bed-night."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from extensions import db
from shelters import figures, services
from shelters.models import CapacityChange, Stay

NOW = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)  # nights counted: June 20..29 for a 10-day window
EARLY = date(2026, 5, 1)  # cases identified before any stay of these tests


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 6, day, hour, tzinfo=UTC)


def test_window_ends_tonight_exclusive():
    first, end = figures.window(NOW, 10)
    assert (first.isoformat(), end.isoformat()) == ("2026-06-20", "2026-06-30")


def test_utilisation_counts_backdated_stays_and_capacity_changes_exactly(make):
    shelter = make.shelter(capacity=4, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    # Capacity 4 until June 25 (nights 20..24: 5 x 4 = 20), then 6 usable (nights 25..29: 5 x 6 = 30).
    services.update_shelter(db.session, None, at(25, 9), shelter, shelter.version, {"capacity": 6})
    # A stay from long before the window, discharged June 23: nights 20, 21, 22 = 3.
    identified = {"identified_on": date(2026, 6, 1)}
    old = services.admit_case(db.session, None, at(1), shelter, make.case(**identified), at(1))
    services.discharge_stay(db.session, None, NOW, old, "reintegrated", discharged_at=at(23, 8))
    # A backdated stay of a mother and child admitted June 27, still open: nights 27, 28, 29 x 2 beds = 6.
    services.admit_case(db.session, None, NOW, shelter, make.case(children=1, **identified), at(27, 18))
    # Admitted and discharged on the same day: no night.
    short = services.admit_case(db.session, None, NOW, shelter, make.case(**identified), at(21, 9))
    services.discharge_stay(db.session, None, NOW, short, "left_voluntarily", discharged_at=at(21, 20))
    db.session.commit()

    result = figures.utilisation(db.session, NOW, 10)[shelter.id]
    assert result.bed_nights_available == 50
    assert result.bed_nights_occupied == 9
    assert result.ratio == 9 / 50


def test_a_shelter_registered_mid_window_counts_from_its_first_night(make):
    shelter = make.shelter(capacity=5, created_at=at(28, 8))
    assert figures.utilisation(db.session, NOW, 10)[shelter.id].bed_nights_available == 10


def test_never_used_shelter_has_zero_utilisation(make):
    shelter = make.shelter(capacity=3, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    result = figures.utilisation(db.session, NOW, 30)[shelter.id]
    assert (result.bed_nights_occupied, result.bed_nights_available, result.ratio) == (0, 90, 0.0)


def test_occupancy_and_available_beds(make, now):
    shelter = make.shelter(capacity=5, out_of_service=1)
    make.stay(shelter, make.case(children=1))
    occ = figures.occupancy(db.session, now)[shelter.id]
    assert (occ.occupied, occ.residents, occ.reserved) == (2, 1, 0)
    assert figures.available_beds(shelter.usable, occ) == 2


def reference_bed_nights(shelter_id: int, now: datetime, days: int) -> tuple[int, int]:
    """Bed-nights the slow way, night by night, from the rows: a stay holds the nights from its admission
    date up to, not including, its discharge date; a night's usable beds are those of the last change made
    on or before that day (none before the first)."""
    first, end = figures.window(now, days)
    stays = db.session.scalars(select(Stay).where(Stay.shelter_id == shelter_id)).all()
    changes = db.session.scalars(select(CapacityChange).where(CapacityChange.shelter_id == shelter_id)
                                 .order_by(CapacityChange.effective_at, CapacityChange.id)).all()
    occupied = available = 0
    for n in range(days):
        night = first + timedelta(days=n)
        occupied += sum(s.beds for s in stays if s.admitted_at.date() <= night
                        and (s.discharged_at is None or s.discharged_at.date() > night))
        in_force = [c for c in changes if c.effective_at.date() <= night]
        available += in_force[-1].capacity - in_force[-1].out_of_service if in_force else 0
    assert end == first + timedelta(days=days)
    return occupied, available


def test_utilisation_edges_of_the_window_match_a_night_by_night_count(make):
    """Stays admitted before the window and discharged inside it, on its first midnight, just before it,
    at the end's midnight, admitted today; capacity and out-of-service changes before, on the first
    midnight, mid-window (two the same day), and today; every window length gives the slow count."""
    make._now = NOW
    shelter = make.shelter(capacity=20, created_at=datetime(2026, 5, 1, tzinfo=UTC))
    idle = make.shelter(capacity=2, out_of_service=2, created_at=datetime(2026, 5, 1, tzinfo=UTC))
    late = make.shelter(capacity=3, created_at=at(26, 23))

    def change(when: datetime, **values: int) -> None:
        services.update_shelter(db.session, None, when, shelter, shelter.version, values)
        db.session.commit()

    change(datetime(2026, 6, 20, tzinfo=UTC), capacity=21)           # on the first midnight of the window
    change(at(24, 9), capacity=22, out_of_service=3)                  # mid-window ...
    change(at(24, 15), out_of_service=1)                              # ... and again the same day: this one holds
    change(at(30, 8), capacity=30)                                    # today: no night of the window yet

    def stay(admitted: datetime, discharged: datetime | None = None, children: int = 0) -> None:
        s = services.admit_case(db.session, None, NOW, shelter, make.case(children=children, identified_on=EARLY),
                                admitted)
        if discharged is not None:
            services.discharge_stay(db.session, None, NOW, s, "reintegrated", discharged_at=discharged)
        db.session.commit()

    stay(at(1))                                                       # before the window, still open
    stay(at(1), at(25, 8), children=2)                                # before, discharged inside: 3 beds
    stay(at(1), datetime(2026, 6, 20, tzinfo=UTC))                   # discharged on the first midnight
    stay(at(1), datetime(2026, 6, 19, 23, 59, tzinfo=UTC))           # discharged just before the window
    stay(datetime(2026, 6, 19, 23, 59, tzinfo=UTC))                  # admitted the night before the window
    stay(datetime(2026, 6, 20, tzinfo=UTC), children=1)              # admitted on the first midnight
    stay(at(22), datetime(2026, 6, 30, tzinfo=UTC))                  # discharged at the end's midnight
    stay(at(29, 23), at(30, 1))                                       # the window's last night only
    stay(at(30, 8))                                                   # admitted today: no night yet
    stay(at(21, 9), at(21, 20))                                       # in and out the same day
    late_stay = services.admit_case(db.session, None, NOW, late, make.case(identified_on=EARLY), at(27, 10))
    assert late_stay.id
    db.session.commit()

    for days in (1, 3, 10, 30, 60):
        every = figures.utilisation(db.session, NOW, days)
        chosen = figures.utilisation(db.session, NOW, days, [shelter.id, idle.id, late.id])
        nights = figures.nightly(db.session, NOW, days)
        assert figures.nightly(db.session, NOW, days, [shelter.id, late.id]) == {
            shelter.id: nights[shelter.id], late.id: nights[late.id]}
        for s in (shelter, idle, late):
            expected = reference_bed_nights(s.id, NOW, days)
            got = every[s.id]
            assert (got.bed_nights_occupied, got.bed_nights_available) == expected, (s.code, days)
            assert chosen[s.id] == got
            assert sum(nights[s.id].occupied) == got.bed_nights_occupied
            assert sum(x or 0 for x in nights[s.id].usable) == got.bed_nights_available
    ten = figures.utilisation(db.session, NOW, 10)
    # Worked by hand for the ten nights June 20-29: occupied 1x10 + 3x5 + 0 + 0 + 1x10 + 2x10 + 1x8 + 1x1;
    # usable 21 for June 20-23, 21 (22 - 1) for June 24-29.
    assert (ten[shelter.id].bed_nights_occupied, ten[shelter.id].bed_nights_available) == (64, 210)
    assert ten[idle.id].ratio is None
    # Registered June 26 at 23:00: June 26's night is its first (4 x 3 beds); its one resident from the 27th.
    assert (ten[late.id].bed_nights_occupied, ten[late.id].bed_nights_available) == (3, 12)


def test_occupancy_counts_open_stays_and_live_holds_only(make, now):
    shelter = make.shelter(capacity=6)
    other = make.shelter(capacity=6)
    make.stay(shelter, make.case(children=2))
    closed = make.stay(shelter)
    services.discharge_stay(db.session, None, now, closed, "reintegrated")
    services.hold_beds(db.session, None, now, shelter, 1, now + timedelta(hours=1))
    services.hold_beds(db.session, None, now - timedelta(hours=2), other, 2, now - timedelta(hours=1))  # expired
    db.session.commit()
    every = figures.occupancy(db.session, now)
    assert every[shelter.id] == figures.Occupancy(occupied=3, residents=1, reserved=1)
    assert other.id not in every
    assert figures.occupancy(db.session, now, [shelter.id]) == {shelter.id: every[shelter.id]}
