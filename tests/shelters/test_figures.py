"""Occupancy and utilisation, right to the bed-night."""

from __future__ import annotations

from datetime import UTC, datetime

from extensions import db
from shelters import figures, services

NOW = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)  # nights counted: June 20..29 for a 10-day window


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
    old = services.admit_case(db.session, None, at(1), shelter, make.case(), at(1))
    services.discharge_stay(db.session, None, NOW, old, "reintegrated", discharged_at=at(23, 8))
    # A backdated stay of a mother and child admitted June 27, still open: nights 27, 28, 29 x 2 beds = 6.
    services.admit_case(db.session, None, NOW, shelter, make.case(children=1), at(27, 18))
    # Admitted and discharged on the same day: no night.
    short = services.admit_case(db.session, None, NOW, shelter, make.case(), at(21, 9))
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
