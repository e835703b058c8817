"""The alert rules alone: figures in, decisions out, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import rules
from alerts.rules import ShelterFigures, Thresholds

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
T = Thresholds()


def figures(**overrides) -> ShelterFigures:
    values = dict(code="HAH", status="open", registered_at=NOW - timedelta(days=1000), usable=8,
                  last_headcount_at=NOW - timedelta(hours=1))
    return ShelterFigures(**(values | overrides))


def test_defaults_are_the_designs():
    assert (T.unused_days, T.low_utilisation, T.utilisation_days, T.near_capacity, T.stale_headcount_hours,
            T.placement_unanswered_hours, T.identification_drop) == (14, 0.65, 30, 0.90, 48, 4, 0.20)


def test_thresholds_from_config_keep_defaults_for_missing_settings():
    t = Thresholds.from_config({"SAFEHAVEN_ALERT_UNUSED_DAYS": 7, "SAFEHAVEN_ALERT_NEAR_CAPACITY": 0.8})
    assert (t.unused_days, t.near_capacity, t.low_utilisation) == (7, 0.8, 0.65)


def test_unused_for_days_since_the_last_resident_left():
    d = rules.unused_facility(figures(last_resident_at=NOW - timedelta(days=143, hours=3)), NOW, T)
    assert d.message == "HAH unused for 143 days"
    assert (d.kind, d.subject_type, d.subject, d.shelter) == ("unused_facility", "shelter", "HAH", "HAH")
    assert d.figures["days_unused"] == 143 and d.figures["never_used"] is False


def test_unused_threshold_is_inclusive_and_a_resident_clears_it():
    assert rules.unused_facility(figures(last_resident_at=NOW - timedelta(days=13, hours=23)), NOW, T) is None
    assert rules.unused_facility(figures(last_resident_at=NOW - timedelta(days=14)), NOW, T) is not None
    assert rules.unused_facility(figures(last_resident_at=NOW, has_resident=True), NOW, T) is None


def test_never_used_only_once_registered_long_enough_and_only_when_open():
    assert rules.unused_facility(figures(code="ISF"), NOW, T).message == "ISF never used"
    assert rules.unused_facility(figures(registered_at=NOW - timedelta(days=3)), NOW, T) is None
    assert rules.unused_facility(figures(status="suspended"), NOW, T) is None
    assert rules.unused_facility(figures(status="closed"), NOW, T) is None


def test_low_utilisation_below_the_floor_only():
    low = rules.low_utilisation(figures(has_resident=True, bed_nights_occupied=150, bed_nights_available=300),
                                NOW, T)
    assert low.kind == "low_utilisation" and low.figures["utilisation"] == 0.5
    assert low.message == "HAH used 50% of its bed-nights over 30 days (floor 65%)"
    assert rules.low_utilisation(figures(has_resident=True, bed_nights_occupied=195, bed_nights_available=300),
                                 NOW, T) is None  # exactly 65%
    assert rules.low_utilisation(figures(has_resident=True, bed_nights_available=0), NOW, T) is None


def test_an_unused_shelter_is_not_reported_again_as_under_used():
    unused = figures(last_resident_at=NOW - timedelta(days=40), bed_nights_available=240)
    assert rules.unused_facility(unused, NOW, T) is not None
    assert rules.low_utilisation(unused, NOW, T) is None


@pytest.mark.parametrize(("usable", "occupied", "reserved", "near", "over"), [
    (10, 8, 0, False, False),
    (10, 8, 1, True, False),   # 9 of 10 taken or held: 90%
    (10, 10, 0, True, False),
    (5, 6, 0, False, True),
    (0, 0, 0, False, False),
    (0, 1, 0, False, True),
])
def test_near_and_over_capacity(usable, occupied, reserved, near, over):
    f = figures(usable=usable, occupied=occupied, reserved=reserved, has_resident=occupied > 0)
    assert (rules.near_capacity(f, NOW, T) is not None) is near
    assert (rules.over_capacity(f, NOW, T) is not None) is over


def test_over_capacity_message_and_severity():
    d = rules.over_capacity(figures(code="PVPT", usable=5, occupied=6), NOW, T)
    assert d.severity == "critical" and d.message == "PVPT over capacity: 6 beds taken, 5 usable"
    assert d.figures["overflow"] == 1


def test_stale_headcount_in_days_and_since_registration():
    d = rules.stale_headcount(figures(code="ISF", last_headcount_at=NOW - timedelta(days=3, hours=2)), NOW, T)
    assert d.message == "No headcount from ISF for 3 days"
    assert rules.stale_headcount(figures(last_headcount_at=NOW - timedelta(hours=47)), NOW, T) is None
    never = rules.stale_headcount(figures(last_headcount_at=None, registered_at=NOW - timedelta(days=5)), NOW, T)
    assert never.message == "No headcount from HAH for 5 days (none since registration)"
    assert rules.stale_headcount(figures(last_headcount_at=None, registered_at=NOW - timedelta(hours=5)), NOW, T) is None


def test_identification_drop():
    d = rules.identification_drop(24, 32, T)
    assert d.message == "Identifications down 25% year over year (24 vs 32)"
    assert (d.kind, d.subject_type, d.subject) == ("identification_drop", "country", rules.COUNTRY)
    assert rules.identification_drop(26, 32, T) is None  # 18.75%
    assert rules.identification_drop(0, 0, T) is None
    assert rules.identification_drop(40, 32, T) is None


def test_placement_unanswered():
    d = rules.placement_unanswered(17, "PVPT", NOW - timedelta(hours=5, minutes=10), NOW, T)
    assert d.message == "Placement request 17 unanswered for 5 hours"
    assert (d.subject_type, d.subject, d.shelter, d.severity) == ("request", "17", "PVPT", "critical")
    assert rules.placement_unanswered(17, "PVPT", NOW - timedelta(hours=3), NOW, T) is None


def test_shelter_decisions_run_every_rule():
    kinds = {d.kind for d in rules.shelter_decisions(
        [figures(code="A", last_headcount_at=None), figures(code="B", usable=5, occupied=6, has_resident=True)],
        NOW, T)}
    assert kinds == {"unused_facility", "stale_headcount", "over_capacity"}
