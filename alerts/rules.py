"""The alert rules: pure functions from figures to decisions.

No database and no Flask here: the jobs gather the figures with SQL and pass
plain values in; each rule answers "should this alert be open now, and with
which figures?" by returning a `Decision`, or None when the condition is clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

UNUSED_FACILITY = "unused_facility"
LOW_UTILISATION = "low_utilisation"
NEAR_CAPACITY = "near_capacity"
OVER_CAPACITY = "over_capacity"
STALE_HEADCOUNT = "stale_headcount"
PLACEMENT_UNANSWERED = "placement_unanswered"
IDENTIFICATION_DROP = "identification_drop"
UNUSUAL_ACCESS = "unusual_access"
SYSTEM = "system"
# Every kind of alert, as the API documents them.
ALERT_KINDS = (UNUSED_FACILITY, LOW_UTILISATION, NEAR_CAPACITY, OVER_CAPACITY, STALE_HEADCOUNT, PLACEMENT_UNANSWERED,
               IDENTIFICATION_DROP, UNUSUAL_ACCESS, SYSTEM)

# The subject of the country-wide identification figures.
COUNTRY = "national"


@dataclass(frozen=True)
class Decision:
    """An alert that should be open now. `shelter` is the shelter code it concerns, if any."""

    kind: str
    subject_type: str
    subject: str
    severity: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    shelter: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.subject_type, self.subject)


@dataclass(frozen=True)
class Thresholds:
    """Every limit the rules apply; the defaults are DESIGN.md's."""

    unused_days: int = 14
    low_utilisation: float = 0.65
    utilisation_days: int = 30
    near_capacity: float = 0.90
    stale_headcount_hours: int = 48
    placement_unanswered_hours: int = 4
    identification_drop: float = 0.20
    unusual_access_per_hour: int = 30
    # An emergency (an urgent) request escalates to the secretariat this soon; a routine one after
    # placement_unanswered_hours.
    escalate_emergency_minutes: int = 15
    escalate_urgent_minutes: int = 60

    def unanswered_after(self, urgency: str) -> timedelta:
        """How long a request of `urgency` may wait for an accepted bed before the secretariat hears of it."""
        if urgency == "emergency":
            return timedelta(minutes=self.escalate_emergency_minutes)
        if urgency == "urgent":
            return timedelta(minutes=self.escalate_urgent_minutes)
        return timedelta(hours=self.placement_unanswered_hours)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Thresholds:
        """Read SAFEHAVEN_ALERT_* settings, keeping the default for any that are missing."""
        names = {
            "unused_days": "SAFEHAVEN_ALERT_UNUSED_DAYS",
            "low_utilisation": "SAFEHAVEN_ALERT_LOW_UTILISATION",
            "utilisation_days": "SAFEHAVEN_ALERT_UTILISATION_DAYS",
            "near_capacity": "SAFEHAVEN_ALERT_NEAR_CAPACITY",
            "stale_headcount_hours": "SAFEHAVEN_ALERT_STALE_HEADCOUNT_HOURS",
            "placement_unanswered_hours": "SAFEHAVEN_ALERT_PLACEMENT_UNANSWERED_HOURS",
            "identification_drop": "SAFEHAVEN_ALERT_IDENTIFICATION_DROP",
            "unusual_access_per_hour": "SAFEHAVEN_ALERT_UNUSUAL_ACCESS_PER_HOUR",
            "escalate_emergency_minutes": "SAFEHAVEN_ESCALATE_EMERGENCY_MINUTES",
            "escalate_urgent_minutes": "SAFEHAVEN_ESCALATE_URGENT_MINUTES",
        }
        return cls(**{attr: config[key] for attr, key in names.items() if config.get(key) is not None})


@dataclass(frozen=True)
class ShelterFigures:
    """What the rules know about one shelter at `now`."""

    code: str
    status: str
    registered_at: datetime
    usable: int
    occupied: int = 0
    reserved: int = 0
    # The last moment anyone stayed there (now, while someone does); None: nobody ever has.
    last_resident_at: datetime | None = None
    has_resident: bool = False
    bed_nights_occupied: int = 0
    bed_nights_available: int = 0
    last_headcount_at: datetime | None = None


def _days(span: timedelta) -> int:
    return max(0, span.days)


def _span_text(span: timedelta) -> str:
    hours = max(0, int(span.total_seconds() // 3600))
    if hours == 0:
        minutes = max(0, int(span.total_seconds() // 60))
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    if hours >= 48:
        return f"{hours // 24} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def _percent(ratio: float) -> str:
    return f"{round(ratio * 100)}%"


def unused_facility(f: ShelterFigures, now: datetime, t: Thresholds) -> Decision | None:
    """An open shelter with no resident for `unused_days`, or none ever since it has been registered that long."""
    if f.status != "open" or f.has_resident:
        return None
    since = f.last_resident_at if f.last_resident_at is not None else f.registered_at
    days = _days(now - since)
    if days < t.unused_days:
        return None
    figures = {"days_unused": days, "unused_days": t.unused_days, "usable": f.usable,
               "last_resident_at": f.last_resident_at.isoformat() if f.last_resident_at else None}
    if f.last_resident_at is None:
        return Decision(UNUSED_FACILITY, "shelter", f.code, "warning", f"{f.code} never used",
                        figures | {"never_used": True}, shelter=f.code)
    return Decision(UNUSED_FACILITY, "shelter", f.code, "warning", f"{f.code} unused for {days} days",
                    figures | {"never_used": False}, shelter=f.code)


def low_utilisation(f: ShelterFigures, now: datetime, t: Thresholds) -> Decision | None:
    """An open shelter that used under `low_utilisation` of its bed-nights in the window.

    A shelter that is unused altogether is reported as unused, not a second time as under-used.
    """
    if f.status != "open" or f.bed_nights_available <= 0 or unused_facility(f, now, t) is not None:
        return None
    ratio = f.bed_nights_occupied / f.bed_nights_available
    if ratio >= t.low_utilisation:
        return None
    return Decision(
        LOW_UTILISATION, "shelter", f.code, "info",
        f"{f.code} used {_percent(ratio)} of its bed-nights over {t.utilisation_days} days "
        f"(floor {_percent(t.low_utilisation)})",
        {"utilisation": round(ratio, 4), "bed_nights_occupied": f.bed_nights_occupied,
         "bed_nights_available": f.bed_nights_available, "days": t.utilisation_days, "floor": t.low_utilisation},
        shelter=f.code,
    )


def over_capacity(f: ShelterFigures, now: datetime, t: Thresholds) -> Decision | None:
    """More beds taken by residents than the shelter's usable capacity."""
    if f.occupied <= f.usable:
        return None
    return Decision(
        OVER_CAPACITY, "shelter", f.code, "critical",
        f"{f.code} over capacity: {f.occupied} beds taken, {f.usable} usable",
        {"occupied": f.occupied, "reserved": f.reserved, "usable": f.usable, "overflow": f.occupied - f.usable},
        shelter=f.code,
    )


def near_capacity(f: ShelterFigures, now: datetime, t: Thresholds) -> Decision | None:
    """At least `near_capacity` of the usable beds taken or held (and not over capacity, reported on its own)."""
    if f.usable <= 0 or f.occupied > f.usable:
        return None
    taken = f.occupied + f.reserved
    if taken < t.near_capacity * f.usable:
        return None
    return Decision(
        NEAR_CAPACITY, "shelter", f.code, "warning",
        f"{f.code} nearly full: {taken} of {f.usable} usable beds taken or held",
        {"occupied": f.occupied, "reserved": f.reserved, "usable": f.usable,
         "ratio": round(taken / f.usable, 4), "threshold": t.near_capacity},
        shelter=f.code,
    )


def stale_headcount(f: ShelterFigures, now: datetime, t: Thresholds) -> Decision | None:
    """An open shelter whose manager has not confirmed a headcount for `stale_headcount_hours`.

    A shelter never confirmed counts from its registration.
    """
    if f.status != "open":
        return None
    since = f.last_headcount_at if f.last_headcount_at is not None else f.registered_at
    span = now - since
    if span < timedelta(hours=t.stale_headcount_hours):
        return None
    hours = int(span.total_seconds() // 3600)
    message = f"No headcount from {f.code} for {_span_text(span)}"
    if f.last_headcount_at is None:
        message += " (none since registration)"
    return Decision(
        STALE_HEADCOUNT, "shelter", f.code, "warning", message,
        {"hours_since": hours, "last_headcount_at": f.last_headcount_at.isoformat() if f.last_headcount_at else None,
         "threshold_hours": t.stale_headcount_hours},
        shelter=f.code,
    )


def identification_drop(recent: int, previous: int, t: Thresholds, subject: str = COUNTRY) -> Decision | None:
    """Identifications in the last 12 months at least `identification_drop` below the 12 months before."""
    if previous <= 0:
        return None
    drop = (previous - recent) / previous
    if drop < t.identification_drop:
        return None
    return Decision(
        IDENTIFICATION_DROP, "country", subject, "warning",
        f"Identifications down {_percent(drop)} year over year ({recent} vs {previous})",
        {"last_12_months": recent, "previous_12_months": previous, "drop": round(drop, 4),
         "threshold": t.identification_drop},
    )


def unusual_access(username: str, reads: int, t: Thresholds) -> Decision | None:
    """A user who read more cases and shelter addresses in the last hour than `unusual_access_per_hour`.

    The subject is the user, never a case: the secretariat sees who, and reads the audit log for what.
    """
    if reads <= t.unusual_access_per_hour:
        return None
    return Decision(
        UNUSUAL_ACCESS, "user", username, "critical" if reads > 3 * t.unusual_access_per_hour else "warning",
        f"{username} read {reads} cases or shelter addresses in the last hour "
        f"(threshold {t.unusual_access_per_hour})",
        {"reads_last_hour": reads, "threshold": t.unusual_access_per_hour},
    )


def placement_unanswered(request_id: int, shelter_code: str | None, requested_at: datetime, now: datetime,
                         t: Thresholds, urgency: str = "routine") -> Decision | None:
    """A placement request that no shelter has accepted in time after it was made: an emergency within
    `escalate_emergency_minutes`, an urgent one within `escalate_urgent_minutes`, a routine one within
    `placement_unanswered_hours`."""
    span = now - requested_at
    if span < t.unanswered_after(urgency):
        return None
    return Decision(
        PLACEMENT_UNANSWERED, "request", str(request_id), "critical",
        f"Placement request {request_id} unanswered for {_span_text(span)}",
        {"request": request_id, "shelter": shelter_code, "requested_at": requested_at.isoformat(),
         "hours": int(span.total_seconds() // 3600), "minutes": int(span.total_seconds() // 60),
         "urgency": urgency, "threshold_minutes": int(t.unanswered_after(urgency).total_seconds() // 60),
         "threshold_hours": t.placement_unanswered_hours},
        shelter=shelter_code,
    )


def job_failed(job: str, error: BaseException) -> Decision:
    """A scheduled job raised: the system alert that says so."""
    detail = f"{type(error).__name__}: {error}"[:300]
    return Decision(SYSTEM, "system", job, "critical", f"The scheduled job '{job}' failed: {detail}",
                    {"job": job, "error": detail})


def service_unreachable(service: str, kind: str) -> Decision:
    """A service the app leans on (the rate-limit store) does not answer: the system alert that says so."""
    return Decision(SYSTEM, "system", service, "warning",
                    f"The {kind} store of shared rate limits does not answer; each instance counts on its own",
                    {"service": service, "store": kind})


SHELTER_RULES = (unused_facility, low_utilisation, near_capacity, over_capacity, stale_headcount)
SHELTER_KINDS = (UNUSED_FACILITY, LOW_UTILISATION, NEAR_CAPACITY, OVER_CAPACITY, STALE_HEADCOUNT)


def shelter_decisions(shelters: list[ShelterFigures], now: datetime, t: Thresholds) -> list[Decision]:
    """Every shelter rule over every shelter."""
    return [d for f in shelters for rule in SHELTER_RULES if (d := rule(f, now, t)) is not None]
