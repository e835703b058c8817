"""The figures behind the secretariat's overview and trends and the partners' aggregates.

Occupancy and utilisation come from shelters.figures (through alerts.jobs.shelter_figures, which the
alerts evaluate too), so a shelter reads the same on the overview, its board and in its alerts. Every
function runs a fixed number of grouped queries, whatever the number of shelters or cases.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from accounts.models import Organisation
from alerts import jobs
from alerts.models import Alert
from alerts.rules import Thresholds
from alerts.services import LIVE, partner_utilisation
from placement.models import (
    DECLINE_REASONS,
    PlacementEvent,
    PlacementRequest,
    RequestStatus,
)
from shelters import figures
from shelters.models import Case, Shelter, Stay

FLOOR = 0.65  # the HMIS data-quality floor of bed-night utilisation
CEILING = 1.05  # ... and its ceiling
SUPPRESS_BELOW = 11  # the Counter Trafficking Data Collaborative's k: a count under 11 is never shown
SUPPRESSED = "<11"
AGE_BANDS = ((0, 11, "0-11"), (12, 17, "12-17"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 49, "35-49"),
             (50, 200, "50+"))


# --- the overview ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewRow:
    shelter_id: int
    code: str
    name: str
    region: str
    status: str
    capacity: int
    out_of_service: int
    occupied: int
    held: int
    util_30: float | None
    util_365: float | None
    days_since_resident: int | None  # 0: a resident tonight; None: never used
    last_headcount_at: datetime | None
    # Live alerts: rows with the alert's kind, subject, figures and stored English `message` (what the CSV
    # shows; pages say it in the reader's language through alerts.texts.describe).
    alerts: list[Any] = field(default_factory=list)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.out_of_service - self.occupied - self.held)

    @property
    def occupancy(self) -> float | None:
        usable = self.capacity - self.out_of_service
        return self.occupied / usable if usable > 0 else None


def band(ratio: float | None) -> str:
    """'low' under the floor, 'high' over the ceiling, 'ok' between, 'none' without bed-nights."""
    if ratio is None:
        return "none"
    return "low" if ratio < FLOOR else "high" if ratio > CEILING else "ok"


def overview_rows(session: Session, now: datetime, shelter_ids: Collection[int] | None = None) -> list[OverviewRow]:
    """Every shelter (or only those of `shelter_ids`: a manager's) with its beds, 30- and 365-day
    utilisation, last resident, headcount and live alerts."""
    current = jobs.shelter_figures(session, now, Thresholds(utilisation_days=30), shelter_ids)
    year = figures.utilisation(session, now, 365, shelter_ids)
    shelters_q = select(Shelter.id, Shelter.code, Shelter.name, Shelter.region, Shelter.capacity,
                        Shelter.out_of_service)
    alerts_q = (select(Alert.shelter_id, Alert.kind, Alert.subject_type, Alert.subject, Alert.figures, Alert.message)
                .where(Alert.status.in_(LIVE), Alert.shelter_id.is_not(None)).order_by(Alert.first_seen, Alert.id))
    if shelter_ids is not None:
        shelters_q = shelters_q.where(Shelter.id.in_(shelter_ids))
        alerts_q = alerts_q.where(Alert.shelter_id.in_(shelter_ids))
    shelters = {s.code: s for s in session.execute(shelters_q).all()}
    alerts: dict[int, list[Any]] = {}
    for alert in session.execute(alerts_q):
        alerts.setdefault(alert.shelter_id, []).append(alert)
    rows = []
    no_nights = figures.Utilisation(0, 0)
    for f in current:
        s = shelters.get(f.code)
        if s is None:  # not in scope
            continue
        u30 = figures.Utilisation(f.bed_nights_occupied, f.bed_nights_available)
        u365 = year.get(s.id, no_nights)
        if f.has_resident:
            days = 0
        elif f.last_resident_at is None:
            days = None
        else:
            days = max(0, (now - f.last_resident_at).days)
        rows.append(OverviewRow(
            shelter_id=s.id, code=f.code, name=s.name, region=s.region, status=f.status, capacity=s.capacity,
            out_of_service=s.out_of_service, occupied=f.occupied, held=f.reserved, util_30=u30.ratio,
            util_365=u365.ratio, days_since_resident=days, last_headcount_at=f.last_headcount_at,
            alerts=alerts.get(s.id, [])))
    return rows


SPARKLINE_NIGHTS = 90


def sparkline_nights(session: Session, now: datetime, rows: Sequence[OverviewRow],
                     scoped: bool) -> dict[int, figures.Nights]:
    """The last 90 nights of the rows' shelters, by shelter id, in shelters.figures' two grouped queries
    (for every shelter at once unless `scoped`, so the list of ids does not grow the statement)."""
    ids = [r.shelter_id for r in rows] if scoped else None
    found = figures.nightly(session, now, SPARKLINE_NIGHTS, ids)
    return {r.shelter_id: found.get(r.shelter_id) or _no_nights(now, SPARKLINE_NIGHTS) for r in rows}


def _no_nights(now: datetime, days: int) -> figures.Nights:
    """The nights of a shelter with neither stays nor capacity records in the window."""
    first, _end = figures.window(now, days)
    return figures.Nights(first, [0] * days, [None] * days, [0] * days)


# --- a shelter's history (its board) -----------------------------------------------------------------------

HISTORY_WINDOWS = (90, 365)


@dataclass(frozen=True)
class StayRow:
    case_code: str
    admitted_at: datetime
    discharged_at: datetime | None
    beds: int
    reason: str | None


@dataclass(frozen=True)
class History:
    days: int
    nights: figures.Nights
    stays: list[StayRow] | None  # None: the reader may not see residents


def shelter_history(session: Session, now: datetime, shelter: Shelter, days: int, with_stays: bool) -> History:
    """A shelter's last `days` nights (beds occupied, capacity, beds out of service) and, when `with_stays`,
    the stays that occupied any of them, newest admission first, by pseudonymous case code only. The
    caller audits the reading of the stays."""
    nights = figures.nightly(session, now, days, [shelter.id]).get(shelter.id) or _no_nights(now, days)
    first, _end = figures.window(now, days)
    stays = None
    if with_stays:
        start_at = datetime.combine(first, time(), UTC)
        stays = [StayRow(*row) for row in session.execute(
            select(Case.code, Stay.admitted_at, Stay.discharged_at, Stay.beds, Stay.discharge_reason)
            .join(Case, Stay.case_id == Case.id)
            .where(Stay.shelter_id == shelter.id, Stay.admitted_at <= now,
                   Stay.discharged_at.is_(None) | (Stay.discharged_at >= start_at))
            .order_by(Stay.admitted_at.desc(), Stay.id.desc()))]
    return History(days, nights, stays)


# --- a manager's statistics: their own shelters only -------------------------------------------------------


@dataclass(frozen=True)
class PlacementStats:
    accepted: int = 0
    rejected: int = 0  # by the shelter
    declined: int = 0  # by the victim, once this shelter was proposed
    decline_reasons: tuple[tuple[str, int], ...] = ()
    admissions: int = 0
    median_days_to_placement: float | None = None


def placement_stats(session: Session, now: datetime, shelter_ids: Collection[int]) -> dict[int, PlacementStats]:
    """Per shelter of `shelter_ids`, over the last 365 days: placement requests it accepted and rejected,
    those the victim declined while a bed was held there (by reason), its admissions and the median days
    from identification to admission. Two grouped queries and one of admissions, whatever the shelters."""
    since = now - timedelta(days=365)
    codes = dict(session.execute(select(Shelter.code, Shelter.id).where(Shelter.id.in_(shelter_ids))).all())
    decided = (RequestStatus.ACCEPTED, RequestStatus.REJECTED, RequestStatus.DECLINED)
    reason = case((PlacementEvent.to_status == RequestStatus.DECLINED, PlacementRequest.reason), else_=None)
    counts: dict[int, Counter[str]] = {}
    reasons: dict[int, Counter[str]] = {}
    for code, status, why, n in session.execute(
        select(PlacementEvent.shelter_code, PlacementEvent.to_status, reason, func.count())
        .join(PlacementRequest, PlacementEvent.request_id == PlacementRequest.id)
        .where(PlacementEvent.shelter_code.in_(list(codes)), PlacementEvent.to_status.in_(decided),
               PlacementEvent.at >= since, PlacementEvent.at <= now)
        .group_by(PlacementEvent.shelter_code, PlacementEvent.to_status, reason)
    ):
        sid = codes[code]
        counts.setdefault(sid, Counter())[status] += int(n)
        if status == RequestStatus.DECLINED:
            reasons.setdefault(sid, Counter())[why or "not recorded"] += int(n)
    waits: dict[int, list[int]] = {}
    for sid, identified, admitted in session.execute(
        select(Stay.shelter_id, Case.identified_on, Stay.admitted_at).join(Case, Stay.case_id == Case.id)
        .where(Stay.shelter_id.in_(shelter_ids), Stay.admitted_at >= since, Stay.admitted_at <= now)
    ):
        waits.setdefault(sid, []).append(max(0, (admitted.date() - identified).days))
    result = {}
    for sid in shelter_ids:
        c, w = counts.get(sid, Counter()), waits.get(sid, [])
        result[sid] = PlacementStats(
            accepted=c[RequestStatus.ACCEPTED], rejected=c[RequestStatus.REJECTED],
            declined=c[RequestStatus.DECLINED],
            decline_reasons=tuple(_ordered(reasons.get(sid, Counter()), DECLINE_REASONS)),
            admissions=len(w), median_days_to_placement=statistics.median(w) if w else None)
    return result


SORTS = {
    "code": lambda r: (r.code,),
    "region": lambda r: (r.region, r.code),
    "occupancy": lambda r: (r.occupancy is None, r.occupancy or 0, r.code),
    "util30": lambda r: (r.util_30 is None, r.util_30 or 0, r.code),
    "util365": lambda r: (r.util_365 is None, r.util_365 or 0, r.code),
    "idle": lambda r: (r.days_since_resident is None, r.days_since_resident or 0, r.code),
    "headcount": lambda r: (r.last_headcount_at is None, r.last_headcount_at or datetime.min, r.code),
    "alerts": lambda r: (len(r.alerts), r.code),
}


def sort_rows(rows: Sequence[OverviewRow], key: str, descending: bool = False) -> list[OverviewRow]:
    """Rows ordered by one of SORTS; raises KeyError for an unknown key."""
    return sorted(rows, key=SORTS[key], reverse=descending)


# --- trends ------------------------------------------------------------------------------------------------


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def age_band(age: int) -> str:
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return AGE_BANDS[-1][2]


@dataclass(frozen=True)
class Trends:
    last_12: int
    previous_12: int
    quarters: list[tuple[str, int, int]]  # (label, identified, same quarter a year before)
    exploitation: list[tuple[str, int]]
    sex: list[tuple[str, int]]
    age: list[tuple[str, int]]
    organisation: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]
    decline_reasons: list[tuple[str, int]]
    days_to_placement: float | None
    placed: int
    since: date
    until: date


def _ordered(counts: Counter[str], order: Iterable[str] = ()) -> list[tuple[str, int]]:
    order = list(order)
    known = [(k, counts[k]) for k in order if counts.get(k)]
    rest = sorted(((k, n) for k, n in counts.items() if k not in order), key=lambda kv: (-kv[1], kv[0]))
    return known + rest


def trends(session: Session, now: datetime, quarters: int = 4) -> Trends:
    """Identifications over the last 12 months against the 12 before (the alerts' periods), by quarter
    against the same quarter a year before, and broken down; case outcomes, decline reasons, and the
    median days from identification to the first admission for cases identified in the last 12 months."""
    today = now.date()
    since = today - timedelta(days=365)
    last_12, previous_12 = jobs.identifications(session, now)

    # Quarters: this one and the `quarters - 1` before it, each against the same quarter a year earlier.
    year, q = quarter_of(today)
    wanted = []
    for _ in range(quarters):
        wanted.append((year, q))
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    wanted.reverse()
    first_year, first_q = wanted[0]
    start = date(first_year - 1, 3 * (first_q - 1) + 1, 1)
    by_quarter: Counter[tuple[int, int]] = Counter()
    for year_, month, n in session.execute(
        select(func.extract("year", Case.identified_on), func.extract("month", Case.identified_on), func.count())
        .where(Case.identified_on >= start, Case.identified_on <= today)
        .group_by(func.extract("year", Case.identified_on), func.extract("month", Case.identified_on))
    ):
        by_quarter[(int(year_), (int(month) - 1) // 3 + 1)] += int(n)
    quarter_rows = [(f"{y} Q{qq}", by_quarter[(y, qq)], by_quarter[(y - 1, qq)]) for y, qq in wanted]

    recent = (Case.identified_on >= since) & (Case.identified_on <= today)
    sex = Counter({s: int(n) for s, n in session.execute(
        select(Case.sex, func.count()).where(recent).group_by(Case.sex))})
    age_expr = func.extract("year", Case.identified_on) - Case.birth_year
    ages: Counter[str] = Counter()
    for age, n in session.execute(select(age_expr, func.count()).where(recent).group_by(age_expr)):
        ages[age_band(int(age))] += int(n)
    orgs = Counter({(name or "Not recorded"): int(n) for name, n in session.execute(
        select(Organisation.name, func.count()).select_from(Case)
        .outerjoin(Organisation, Case.identified_by_org_id == Organisation.id)
        .where(recent).group_by(Organisation.name))})
    # Forms of exploitation are a JSON list per case: grouped by the list, then split here.
    exploitation: Counter[str] = Counter()
    for forms, n in session.execute(
        select(Case.exploitation, func.count()).where(recent).group_by(Case.exploitation)
    ):
        for form in forms or ["not recorded"]:
            exploitation[form] += int(n)

    outcomes = Counter({s: int(n) for s, n in session.execute(
        select(Case.status, func.count()).where(recent).group_by(Case.status))})
    reasons = Counter({(r or "not recorded"): int(n) for r, n in session.execute(
        select(PlacementRequest.reason, func.count())
        .join(Case, PlacementRequest.case_id == Case.id)
        .where(PlacementRequest.status == RequestStatus.DECLINED, recent)
        .group_by(PlacementRequest.reason))})

    first_admission = (
        select(Stay.case_id, func.min(Stay.admitted_at).label("admitted_at")).group_by(Stay.case_id).subquery())
    waits = [
        max(0, (admitted.date() - identified).days)
        for identified, admitted in session.execute(
            select(Case.identified_on, first_admission.c.admitted_at)
            .join(first_admission, first_admission.c.case_id == Case.id).where(recent))
    ]
    return Trends(
        last_12=last_12, previous_12=previous_12, quarters=quarter_rows,
        exploitation=_ordered(exploitation), sex=_ordered(sex, ("female", "male")),
        age=[(label, ages[label]) for _, _, label in AGE_BANDS],
        organisation=_ordered(orgs),
        outcomes=_ordered(outcomes, ("identified", "awaiting_placement", "placed", "declined_shelter",
                                     "discharged")),
        decline_reasons=_ordered(reasons, DECLINE_REASONS),
        days_to_placement=statistics.median(waits) if waits else None, placed=len(waits),
        since=since, until=today,
    )


# --- partners: aggregates with small cells suppressed ------------------------------------------------------


def suppress(n: int) -> str:
    """A count as a partner may see it: "<11" for any count under 11, zero included (k=11)."""
    return SUPPRESSED if n < SUPPRESS_BELOW else str(n)


def suppress_breakdown(rows: Sequence[tuple[str, int]]) -> list[tuple[str, str]]:
    """A breakdown of a published total, each count under 11 suppressed; when exactly one count is, the
    next smallest is suppressed too, so the hidden one cannot be found by subtracting from the total."""
    shown = [(label, suppress(n)) for label, n in rows]
    hidden = [i for i, (_, text) in enumerate(shown) if text == SUPPRESSED]
    if len(hidden) == 1 and len(rows) > 1:
        i = min((j for j in range(len(rows)) if j not in hidden), key=lambda j: rows[j][1])
        shown[i] = (shown[i][0], SUPPRESSED)
    return shown


@dataclass(frozen=True)
class PartnerFigures:
    as_of: datetime  # the midnight UTC that began today: nothing of today is counted
    since: date
    until: date
    total: str
    by_month: list[tuple[str, str]]
    by_age: list[tuple[str, str]]
    by_sex: list[tuple[str, str]]
    by_country: list[tuple[str, str]]
    by_exploitation: list[tuple[str, str]]
    regions: list[dict[str, object]]


def partner_figures(session: Session, now: datetime) -> PartnerFigures:
    """Victims identified in the 12 months up to yesterday by month, age band, sex, nationality (country) and
    form of exploitation, every count under 11 suppressed; bed-night utilisation over the 30 nights before today
    by region group (alerts.services.partner_utilisation), without shelters. Never live: all as of the midnight
    UTC that began today."""
    partner = partner_utilisation(session, now, 30)
    t = trends(session, partner.as_of - timedelta(days=1))  # identifications up to the day before that midnight
    recent = (Case.identified_on >= t.since) & (Case.identified_on <= t.until)
    months: Counter[str] = Counter()
    for year_, month, n in session.execute(
        select(func.extract("year", Case.identified_on), func.extract("month", Case.identified_on), func.count())
        .where(recent)
        .group_by(func.extract("year", Case.identified_on), func.extract("month", Case.identified_on))
    ):
        months[f"{int(year_):04d}-{int(month):02d}"] += int(n)
    countries = Counter({c: int(n) for c, n in session.execute(
        select(Case.nationality, func.count()).where(recent).group_by(Case.nationality))})
    return PartnerFigures(
        as_of=partner.as_of, since=t.since, until=t.until, total=suppress(t.last_12),
        by_month=suppress_breakdown(sorted(months.items())),
        by_age=suppress_breakdown(t.age),
        by_sex=suppress_breakdown(t.sex),
        by_country=suppress_breakdown(sorted(countries.items())),
        by_exploitation=suppress_breakdown(t.exploitation),
        regions=partner.regions,
    )
