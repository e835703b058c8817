"""Every alert rule at, just below and just above each of its thresholds, and the figures each decision stores.

The stored figures (`ratio`, `drop`, `utilisation`, hours and days) are what the alert pages and the API show, so
they are read here, exactly, not only whether an alert opens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import rules
from alerts.rules import ShelterFigures, Thresholds

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
T = Thresholds()


def figures(**overrides) -> ShelterFigures:
    values = dict(code="HAH", status="open", registered_at=NOW - timedelta(days=1000), usable=8,
                  last_headcount_at=NOW - timedelta(hours=1), has_resident=True)
    return ShelterFigures(**(values | overrides))


def test_every_default_threshold_and_figure():
    assert T == Thresholds(unused_days=14, low_utilisation=0.65, utilisation_days=30, near_capacity=0.90,
                           stale_headcount_hours=48, placement_unanswered_hours=4, identification_drop=0.20,
                           unusual_access_per_hour=30)
    bare = ShelterFigures(code="X", status="open", registered_at=NOW, usable=3)
    assert (bare.occupied, bare.reserved, bare.bed_nights_occupied, bare.bed_nights_available) == (0, 0, 0, 0)
    assert (bare.last_resident_at, bare.has_resident, bare.last_headcount_at) == (None, False, None)


# unused_facility: `unused_days` (14) days without a resident, counted in whole days.
@pytest.mark.parametrize(("since", "days"), [
    (timedelta(days=13, hours=23, minutes=59), None),
    (timedelta(days=14), 14),
    (timedelta(days=15), 15),
])
def test_unused_facility_at_the_threshold(since, days):
    decision = rules.unused_facility(figures(has_resident=False, last_resident_at=NOW - since), NOW, T)
    if days is None:
        assert decision is None
        return
    assert decision.figures == {"days_unused": days, "unused_days": 14, "usable": 8,
                                "last_resident_at": (NOW - since).isoformat(), "never_used": False}
    assert (decision.severity, decision.message) == ("warning", f"HAH unused for {days} days")


def test_never_used_shelter_stores_it():
    decision = rules.unused_facility(figures(has_resident=False, registered_at=NOW - timedelta(days=14)), NOW, T)
    assert decision.figures["never_used"] is True and decision.figures["last_resident_at"] is None
    assert decision.figures["days_unused"] == 14


def test_unused_days_never_below_zero_when_the_last_stay_is_dated_ahead():
    # a clock a little ahead: never "-1 days"
    decision = rules.unused_facility(figures(has_resident=False, last_resident_at=NOW + timedelta(hours=3)),
                                     NOW, Thresholds(unused_days=0))
    assert decision.figures["days_unused"] == 0


# low_utilisation: strictly under `low_utilisation` (65%) of the bed-nights.
@pytest.mark.parametrize(("occupied", "available", "stored"), [
    (195, 300, None),      # exactly 65%
    (194, 300, 0.6467),    # just below
    (196, 300, None),      # just above
    (1, 3, 0.3333),
    (0, 1, 0.0),           # one bed-night available is enough to judge
])
def test_low_utilisation_at_the_threshold(occupied, available, stored):
    decision = rules.low_utilisation(figures(bed_nights_occupied=occupied, bed_nights_available=available), NOW, T)
    if stored is None:
        assert decision is None
        return
    assert decision.figures == {"utilisation": stored, "bed_nights_occupied": occupied,
                                "bed_nights_available": available, "days": 30, "floor": 0.65}
    assert decision.severity == "info"


def test_low_utilisation_needs_bed_nights_and_an_open_shelter():
    assert rules.low_utilisation(figures(bed_nights_available=0), NOW, T) is None
    assert rules.low_utilisation(figures(bed_nights_available=-1), NOW, T) is None
    assert rules.low_utilisation(figures(status="suspended", bed_nights_available=10), NOW, T) is None


# near_capacity: at least 90% of the usable beds taken or held; over_capacity: more taken than usable.
@pytest.mark.parametrize(("usable", "occupied", "reserved", "ratio"), [
    (10, 8, 0, None),       # 80%
    (10, 8, 1, 0.9),        # exactly 90%
    (10, 9, 1, 1.0),
    (11, 9, 0, None),       # 81.8%
    (11, 9, 1, 0.9091),     # 90.9%
    (1, 1, 0, 1.0),         # one usable bed, taken
    (1, 0, 1, 1.0),         # one usable bed, held
    (1, 0, 0, None),
])
def test_near_capacity_at_the_threshold(usable, occupied, reserved, ratio):
    decision = rules.near_capacity(figures(usable=usable, occupied=occupied, reserved=reserved), NOW, T)
    if ratio is None:
        assert decision is None
        return
    assert decision.figures == {"occupied": occupied, "reserved": reserved, "usable": usable, "ratio": ratio,
                                "threshold": 0.9}
    assert decision.severity == "warning"


@pytest.mark.parametrize(("usable", "occupied", "overflow"), [(5, 4, None), (5, 5, None), (5, 6, 1), (0, 1, 1)])
def test_over_capacity_at_the_threshold(usable, occupied, overflow):
    decision = rules.over_capacity(figures(usable=usable, occupied=occupied, reserved=2), NOW, T)
    if overflow is None:
        assert decision is None
        assert rules.near_capacity(figures(usable=usable, occupied=occupied), NOW, T) is not None or usable == 0 \
            or occupied < 0.9 * usable
        return
    assert decision.figures == {"occupied": occupied, "reserved": 2, "usable": usable, "overflow": overflow}
    # over capacity is reported on its own, never also as nearly full
    assert rules.near_capacity(figures(usable=usable, occupied=occupied), NOW, T) is None


# stale_headcount: no headcount for `stale_headcount_hours` (48) hours.
@pytest.mark.parametrize(("since", "hours", "text"), [
    (timedelta(hours=47, minutes=59, seconds=59), None, None),
    (timedelta(hours=48), 48, "2 days"),
    (timedelta(hours=48, seconds=1), 48, "2 days"),
    (timedelta(hours=71, minutes=59), 71, "2 days"),
    (timedelta(hours=72), 72, "3 days"),
])
def test_stale_headcount_at_the_threshold(since, hours, text):
    decision = rules.stale_headcount(figures(last_headcount_at=NOW - since), NOW, T)
    if hours is None:
        assert decision is None
        return
    assert decision.figures == {"hours_since": hours, "last_headcount_at": (NOW - since).isoformat(),
                                "threshold_hours": 48}
    assert decision.message == f"No headcount from HAH for {text}"


def test_stale_headcount_only_for_open_shelters():
    old = NOW - timedelta(days=9)
    assert rules.stale_headcount(figures(status="suspended", last_headcount_at=old), NOW, T) is None
    assert rules.stale_headcount(figures(status="closed", last_headcount_at=old), NOW, T) is None


@pytest.mark.parametrize(("hours", "text"), [(1, "1 hour"), (2, "2 hours"), (47, "47 hours")])
def test_spans_under_two_days_read_in_hours(hours, text):
    t = Thresholds(stale_headcount_hours=0, placement_unanswered_hours=0)
    decision = rules.stale_headcount(figures(last_headcount_at=NOW - timedelta(hours=hours, minutes=30)), NOW, t)
    assert decision.message == f"No headcount from HAH for {text}"
    assert decision.figures["hours_since"] == hours
    unanswered = rules.placement_unanswered(3, None, NOW - timedelta(hours=hours, minutes=59), NOW, t)
    assert unanswered.message == f"Placement request 3 unanswered for {text}"


def test_spans_under_an_hour_read_in_minutes():
    t = Thresholds(stale_headcount_hours=0, placement_unanswered_hours=0)
    decision = rules.stale_headcount(figures(last_headcount_at=NOW - timedelta(minutes=30)), NOW, t)
    assert decision.message == "No headcount from HAH for 30 minutes"
    assert decision.figures["hours_since"] == 0
    unanswered = rules.placement_unanswered(3, None, NOW - timedelta(minutes=1, seconds=59), NOW, t)
    assert unanswered.message == "Placement request 3 unanswered for 1 minute"


def test_a_span_dated_ahead_reads_as_zero_minutes():
    t = Thresholds(placement_unanswered_hours=-1)
    decision = rules.placement_unanswered(3, None, NOW + timedelta(minutes=30), NOW, t)
    assert decision.message == "Placement request 3 unanswered for 0 minutes"


# placement_unanswered: `placement_unanswered_hours` (4) hours after the request.
@pytest.mark.parametrize(("since", "hours"), [
    (timedelta(hours=3, minutes=59, seconds=59), None),
    (timedelta(hours=4), 4),
    (timedelta(hours=4, minutes=1), 4),
    (timedelta(hours=5), 5),
])
def test_placement_unanswered_at_the_threshold(since, hours):
    decision = rules.placement_unanswered(17, "PVPT", NOW - since, NOW, T)
    if hours is None:
        assert decision is None
        return
    assert decision.figures == {"request": 17, "shelter": "PVPT", "requested_at": (NOW - since).isoformat(),
                                "hours": hours, "minutes": int(since.total_seconds() // 60), "urgency": "routine",
                                "threshold_minutes": 240, "threshold_hours": 4}
    assert (decision.key, decision.shelter) == (("placement_unanswered", "request", "17"), "PVPT")


# identification_drop: down by at least `identification_drop` (20%) year over year.
@pytest.mark.parametrize(("recent", "previous", "drop"), [
    (81, 100, None),    # 19%
    (80, 100, 0.2),     # exactly 20%
    (79, 100, 0.21),    # 21%
    (8, 10, 0.2),
    (2, 3, 0.3333),
    (0, 1, 1.0),        # a single identification the year before is enough to compare
    (120, 100, None),   # a rise
])
def test_identification_drop_at_the_threshold(recent, previous, drop):
    decision = rules.identification_drop(recent, previous, T)
    if drop is None:
        assert decision is None
        return
    assert decision.figures == {"last_12_months": recent, "previous_12_months": previous, "drop": drop,
                                "threshold": 0.2}
    assert decision.key == ("identification_drop", "country", "national")


def test_no_drop_without_a_previous_year():
    assert rules.identification_drop(0, 0, T) is None
    assert rules.identification_drop(5, 0, T) is None
    assert rules.identification_drop(5, -1, T) is None


# unusual_access: more than `unusual_access_per_hour` (30) reads; critical beyond three times that.
@pytest.mark.parametrize(("reads", "severity"), [
    (29, None), (30, None), (31, "warning"), (89, "warning"), (90, "warning"), (91, "critical"),
])
def test_unusual_access_at_the_threshold(reads, severity):
    decision = rules.unusual_access("officer7", reads, T)
    if severity is None:
        assert decision is None
        return
    assert decision.severity == severity
    assert decision.key == ("unusual_access", "user", "officer7") and decision.shelter is None
    assert decision.figures == {"reads_last_hour": reads, "threshold": 30}
    assert decision.message == f"officer7 read {reads} cases or shelter addresses in the last hour (threshold 30)"


def test_unusual_access_follows_its_setting():
    t = Thresholds.from_config({"SAFEHAVEN_ALERT_UNUSUAL_ACCESS_PER_HOUR": 5})
    assert rules.unusual_access("u", 5, t) is None
    assert rules.unusual_access("u", 6, t).severity == "warning"
    assert rules.unusual_access("u", 15, t).severity == "warning"
    assert rules.unusual_access("u", 16, t).severity == "critical"


def test_job_failed_is_a_critical_system_alert():
    decision = rules.job_failed("nightly_alerts", RuntimeError("database went away"))
    assert decision.key == ("system", "system", "nightly_alerts")
    assert decision.severity == "critical" and decision.shelter is None
    assert decision.message == "The scheduled job 'nightly_alerts' failed: RuntimeError: database went away"
    assert decision.figures == {"job": "nightly_alerts", "error": "RuntimeError: database went away"}


def test_job_failed_keeps_300_characters_of_the_error():
    decision = rules.job_failed("backup", ValueError("x" * 1000))
    assert decision.figures["error"] == ("ValueError: " + "x" * 1000)[:300]
    assert len(decision.figures["error"]) == 300
