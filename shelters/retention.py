"""Retention: closed cases are anonymised a configured number of years after their last activity.

What stays is what aggregate figures count (sex, nationality, identification
date, forms of exploitation, outcome, stays and their dates); what goes is what
could single a person out: the identifying details, the exact birth year (kept
as the start of its five-year band), languages and the regions linked to the
traffickers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from accounts import audit
from placement.models import ACTIVE, PlacementRequest
from shelters.models import Case, CaseStatus, Stay

CLOSED = (CaseStatus.DISCHARGED, CaseStatus.DECLINED_SHELTER)
BIRTH_YEAR_BAND = 5


def years_before(now: datetime, years: int) -> datetime:
    """The same day and time `years` earlier (28 February for a 29 February)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def due_for_anonymising(cutoff: datetime) -> Select[tuple[Case]]:
    """Cases closed before `cutoff`: discharged or declined, with no open stay or live request, and
    nothing happening to them (identification, a discharge, a request's last change) since."""
    recent_stay = exists().where(Stay.case_id == Case.id,
                                 or_(Stay.discharged_at.is_(None), Stay.discharged_at >= cutoff))
    live_or_recent_request = exists().where(
        PlacementRequest.case_id == Case.id,
        or_(PlacementRequest.status.in_(ACTIVE), PlacementRequest.updated_at >= cutoff))
    return (
        select(Case)
        .where(Case.anonymised.is_(False), Case.status.in_(CLOSED), Case.identified_on < cutoff.date(),
               ~recent_stay, ~live_or_recent_request)
        .order_by(Case.id)
    )


def anonymise_case(case: Case) -> None:
    """Strip what could single the victim out, keeping what aggregate figures count."""
    case.identifying_details = None
    case.birth_year -= case.birth_year % BIRTH_YEAR_BAND
    case.languages = []
    case.trafficker_regions = []
    case.intake_reference = None  # the shelter's file number would lead back to its own records
    case.anonymised = True


def anonymise_closed_cases(session: Session, now: datetime, years: int) -> int:
    """Anonymise every case closed more than `years` years before `now`; returns how many.

    Idempotent: an anonymised case is never touched again. One audit event per run
    (`case.anonymise_closed`, with the count and the cutoff, no case codes). Flushes;
    the caller commits. Raises ValueError for fewer than one year.
    """
    if years < 1:
        raise ValueError("retention must be at least one year")
    cutoff = years_before(now, years)
    cases = session.scalars(due_for_anonymising(cutoff)).all()
    for case in cases:
        anonymise_case(case)
    session.flush()
    audit.record(session, actor=None, action="case.anonymise_closed", object_type="case", object_id="*", now=now,
                 detail={"count": len(cases), "years": years, "closed_before": cutoff.date().isoformat()},
                 actor_name="retention")
    return len(cases)
